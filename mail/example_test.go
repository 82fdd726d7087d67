package mail_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/hallpass/hallpass/mail"
)

// A server sends through a Queue in front of SMTP, so no request waits for
// the mail server; without SMTP settings, the development mailer logs.
func Example() {
	var m mail.Mailer = &mail.Log{Logger: slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))}
	if url := os.Getenv("EXAMPLE_SMTP_URL"); url != "" {
		smtp, err := mail.NewSMTP(url, "Example <login@example.com>", mail.SMTPOptions{})
		if err != nil {
			fmt.Println(err)
			return
		}
		m = smtp
	}
	q := mail.NewQueue(m, mail.QueueOptions{})
	done := make(chan error)
	q.Send(context.Background(), &mail.Message{To: "ada@example.com", Subject: "Hello", Text: "Hi Ada!",
		Done: func(err error) { done <- err }})
	fmt.Println("delivered:", <-done == nil)
	q.Close(context.Background())
	// Output:
	// level=WARN msg="DEVELOPMENT MAILER: email not sent" to=ada@example.com subject=Hello text="Hi Ada!"
	// delivered: true
}
