package mail

import (
	"context"
	"log/slog"
)

// Log is the development Mailer: it sends nothing, and writes each message
// (recipient, subject and text part, links included) to the log at warning
// level under the message "DEVELOPMENT MAILER: email not sent", so a
// developer can follow the links. Use it only where no SMTP server is
// configured: the log then holds live reset and verification links.
type Log struct {
	Logger *slog.Logger // default slog.Default()
}

var _ Mailer = (*Log)(nil)

// LogMessage is the message of Log's records.
const LogMessage = "DEVELOPMENT MAILER: email not sent"

// Send writes m to the log.
func (l *Log) Send(ctx context.Context, m *Message) error {
	lg := l.Logger
	if lg == nil {
		lg = slog.Default()
	}
	lg.WarnContext(ctx, LogMessage, "to", m.To, "subject", m.Subject, "text", m.Text)
	return nil
}
