package recovery

import (
	"bytes"
	"context"
	"embed"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/mail"
)

//go:embed templates
var templateFS embed.FS

// The messages: a text template (blocks "subject" and "text") and an HTML
// template (block "body", in the layout) per kind.
var (
	textTemplates = map[string]*texttemplate.Template{}
	htmlTemplates = map[string]*htmltemplate.Template{}
)

func init() {
	layout := htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/layout.html"))
	for _, kind := range []string{"reset", "verify", "change", "notice"} {
		textTemplates[kind] = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/"+kind+".txt"))
		htmlTemplates[kind] = htmltemplate.Must(htmltemplate.Must(layout.Clone()).ParseFS(templateFS, "templates/"+kind+".html"))
	}
}

// mailData is what the templates see.
type mailData struct {
	Site     string
	BaseURL  string
	Username string
	Link     string // the link to follow, with its token
	Valid    string // how long the link works, in words
	NewEmail string // verify: the address to prove; change, notice: the new address
	Subject  string
}

// compose renders the message of kind to the address to.
func compose(kind, to string, d *mailData) (*mail.Message, error) {
	var subj, text, html bytes.Buffer
	t := textTemplates[kind]
	if err := t.ExecuteTemplate(&subj, "subject", d); err != nil {
		return nil, err
	}
	d.Subject = strings.TrimSpace(subj.String())
	if err := t.ExecuteTemplate(&text, "text", d); err != nil {
		return nil, err
	}
	if err := htmlTemplates[kind].ExecuteTemplate(&html, "layout", d); err != nil {
		return nil, err
	}
	return &mail.Message{To: to, Subject: d.Subject, Text: strings.TrimLeft(text.String(), "\n"), HTML: html.String()}, nil
}

// send composes the message of kind for u to address to and hands it to
// the Mailer. Once the mail server has it (or the Mailer gives up) the
// event sent (or audit.MailFailed) is recorded.
func (s *Service) send(ctx context.Context, kind, to string, u *account.User, link string, valid string, newEmail string, sent audit.Event) error {
	m, err := compose(kind, to, &mailData{Site: s.cfg.SiteName, BaseURL: s.cfg.BaseURL, Username: u.Username,
		Link: link, Valid: valid, NewEmail: newEmail})
	if err != nil {
		return err
	}
	m.Done = func(err error) {
		if err != nil {
			s.record(context.Background(), audit.Event{Name: audit.MailFailed, UserID: u.ID, IP: sent.IP, Reason: kind})
			return
		}
		s.record(context.Background(), sent)
	}
	if err := s.cfg.Mailer.Send(ctx, m); err != nil {
		s.record(ctx, audit.Event{Name: audit.MailFailed, UserID: u.ID, IP: sent.IP, Reason: kind})
		return err
	}
	if _, queued := s.cfg.Mailer.(*mail.Queue); !queued {
		// A Mailer that delivered (or logged) at once: it is sent.
		s.record(ctx, sent)
	}
	return nil
}
