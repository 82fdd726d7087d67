package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/hallpass/hallpass/identity"
)

// IdentityStore keeps the links between users and identities at OpenID
// Connect providers (identity.Store) in the table hallpass_identities of
// a DB. Get it from DB.Identities. AccountStore.DeleteUser removes a
// deleted user's links.
type IdentityStore struct{ db *DB }

var _ identity.Store = (*IdentityStore)(nil)

// Identities returns the store of linked identities.
func (d *DB) Identities() *IdentityStore { return &IdentityStore{db: d} }

const identityColumns = `issuer, subject, provider, user_id, email, created_at, last_used_at`

func scanIdentity(row interface{ Scan(...any) error }) (*identity.Identity, error) {
	var id identity.Identity
	var created, used int64
	if err := row.Scan(&id.Issuer, &id.Subject, &id.Provider, &id.UserID, &id.Email, &created, &used); err != nil {
		return nil, err
	}
	id.CreatedAt, id.LastUsedAt = time.UnixMilli(created), time.UnixMilli(used)
	return &id, nil
}

// LinkIdentity stores id, or returns identity.ErrLinked.
func (s *IdentityStore) LinkIdentity(ctx context.Context, id *identity.Identity) error {
	n, err := execCount(ctx, s.db.write, "link identity", `INSERT INTO hallpass_identities (`+identityColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		id.Issuer, id.Subject, id.Provider, id.UserID, id.Email, ms(id.CreatedAt), ms(id.LastUsedAt))
	if err != nil {
		return err
	}
	if n == 0 {
		return identity.ErrLinked
	}
	return nil
}

// Identity returns the link, or identity.ErrNotFound.
func (s *IdentityStore) Identity(ctx context.Context, issuer, subject string) (*identity.Identity, error) {
	id, err := scanIdentity(s.db.read.QueryRowContext(ctx,
		`SELECT `+identityColumns+` FROM hallpass_identities WHERE issuer = ? AND subject = ?`, issuer, subject))
	if errors.Is(err, sql.ErrNoRows) {
		if err := ctx.Err(); err != nil {
			return nil, wrap(ctx, "identity", err)
		}
		return nil, identity.ErrNotFound
	}
	if err != nil {
		return nil, wrap(ctx, "identity", err)
	}
	return id, nil
}

// IdentitiesByUser returns the user's links, oldest first.
func (s *IdentityStore) IdentitiesByUser(ctx context.Context, userID string) ([]*identity.Identity, error) {
	const op = "identities by user"
	rows, err := s.db.read.QueryContext(ctx, `SELECT `+identityColumns+` FROM hallpass_identities
		WHERE user_id = ? ORDER BY created_at, issuer, subject`, userID)
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	defer rows.Close()
	var out []*identity.Identity
	for rows.Next() {
		id, err := scanIdentity(rows)
		if err != nil {
			return nil, wrap(ctx, op, err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, op, err)
	}
	return out, nil
}

// TouchIdentity sets the link's last use, or returns
// identity.ErrNotFound.
func (s *IdentityStore) TouchIdentity(ctx context.Context, issuer, subject string, at time.Time) error {
	n, err := execCount(ctx, s.db.write, "touch identity",
		`UPDATE hallpass_identities SET last_used_at = ? WHERE issuer = ? AND subject = ?`, ms(at), issuer, subject)
	return oneRow(n, err)
}

// UnlinkIdentity removes the user's link, or returns
// identity.ErrNotFound.
func (s *IdentityStore) UnlinkIdentity(ctx context.Context, userID, issuer, subject string) error {
	n, err := execCount(ctx, s.db.write, "unlink identity",
		`DELETE FROM hallpass_identities WHERE issuer = ? AND subject = ? AND user_id = ?`, issuer, subject, userID)
	return oneRow(n, err)
}

// oneRow turns the count of a write to one link into identity.ErrNotFound
// when it changed none.
func oneRow(n int, err error) error {
	if err == nil && n == 0 {
		return identity.ErrNotFound
	}
	return err
}

// UnlinkUser removes all the user's links.
func (s *IdentityStore) UnlinkUser(ctx context.Context, userID string) (int, error) {
	return execCount(ctx, s.db.write, "unlink user", `DELETE FROM hallpass_identities WHERE user_id = ?`, userID)
}
