package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/identity"
)

// IdentityStore keeps the links between users and identities at OpenID
// Connect providers (identity.Store) in the table hallpass_identities.
// Get it from DB.Identities. AccountStore.DeleteUser removes a deleted
// user's links. Times are kept at microsecond precision.
type IdentityStore struct {
	pool *pgxpool.Pool
}

var _ identity.Store = (*IdentityStore)(nil)

// Identities returns the store of linked identities.
func (d *DB) Identities() *IdentityStore { return &IdentityStore{pool: d.pool} }

const identityColumns = `issuer, subject, provider, user_id, email, created_at, last_used_at`

func scanIdentity(row pgx.Row) (*identity.Identity, error) {
	var id identity.Identity
	if err := row.Scan(&id.Issuer, &id.Subject, &id.Provider, &id.UserID, &id.Email, &id.CreatedAt, &id.LastUsedAt); err != nil {
		return nil, err
	}
	return &id, nil
}

// LinkIdentity stores id, or returns identity.ErrLinked.
func (s *IdentityStore) LinkIdentity(ctx context.Context, id *identity.Identity) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO hallpass_identities (`+identityColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		cleanText(id.Issuer), cleanText(id.Subject), id.Provider, id.UserID, cleanText(id.Email), id.CreatedAt, id.LastUsedAt)
	if err != nil {
		return wrap(ctx, "link identity", err)
	}
	if tag.RowsAffected() == 0 {
		return identity.ErrLinked
	}
	return nil
}

// Identity returns the link, or identity.ErrNotFound.
func (s *IdentityStore) Identity(ctx context.Context, issuer, subject string) (*identity.Identity, error) {
	id, err := scanIdentity(s.pool.QueryRow(ctx,
		`SELECT `+identityColumns+` FROM hallpass_identities WHERE issuer = $1 AND subject = $2`, cleanText(issuer), cleanText(subject)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, identity.ErrNotFound
	}
	if err != nil {
		return nil, wrap(ctx, "identity", err)
	}
	return id, nil
}

// IdentitiesByUser returns the user's links, oldest first.
func (s *IdentityStore) IdentitiesByUser(ctx context.Context, userID string) ([]*identity.Identity, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+identityColumns+` FROM hallpass_identities
		WHERE user_id = $1 ORDER BY created_at, issuer, subject`, userID)
	if err != nil {
		return nil, wrap(ctx, "identities by user", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*identity.Identity, error) { return scanIdentity(r) })
	if err != nil {
		return nil, wrap(ctx, "identities by user", err)
	}
	return out, nil
}

// TouchIdentity sets the link's last use, or returns
// identity.ErrNotFound.
func (s *IdentityStore) TouchIdentity(ctx context.Context, issuer, subject string, at time.Time) error {
	return s.one(ctx, "touch identity", `UPDATE hallpass_identities SET last_used_at = $1 WHERE issuer = $2 AND subject = $3`,
		at, cleanText(issuer), cleanText(subject))
}

// UnlinkIdentity removes the user's link, or returns
// identity.ErrNotFound.
func (s *IdentityStore) UnlinkIdentity(ctx context.Context, userID, issuer, subject string) error {
	return s.one(ctx, "unlink identity", `DELETE FROM hallpass_identities WHERE issuer = $1 AND subject = $2 AND user_id = $3`,
		cleanText(issuer), cleanText(subject), userID)
}

func (s *IdentityStore) one(ctx context.Context, op, query string, args ...any) error {
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil {
		return wrap(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return identity.ErrNotFound
	}
	return nil
}

// UnlinkUser removes all the user's links.
func (s *IdentityStore) UnlinkUser(ctx context.Context, userID string) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM hallpass_identities WHERE user_id = $1`, userID)
	if err != nil {
		return 0, wrap(ctx, "unlink user", err)
	}
	return int(tag.RowsAffected()), nil
}
