package sqlitestore

import (
	"context"
	"fmt"
)

// Ping checks that the database answers, for health checks.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.read.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlitestore: ping: %w", err)
	}
	return nil
}
