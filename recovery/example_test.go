package recovery_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/mail"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/recovery"
)

// An app with its own user table mounts "forgot password": it gives the
// Service lookups by ID and address (recovery.Users), a way to set the
// password, a Store for the links and a Mailer, and writes two handlers.
func Example() {
	var users recovery.Users = &appUsers{}                   // the app's table
	queue := mail.NewQueue(&mail.Log{}, mail.QueueOptions{}) // or mail.NewSMTP(...)
	svc, err := recovery.New(recovery.Config{
		Tokens: memstore.NewRecoveryStore(), // or sqlitestore/pgstore's DB.Recovery()
		Users:  users,
		Mailer: queue,
		SetPassword: func(ctx context.Context, userID, pw string) error {
			// hash it, store it, end the user's sessions: with hallpass's
			// login.Manager, lm.SetPassword(ctx, "", userID, pw)
			return nil
		},
		BaseURL: "https://app.example.com",
	})
	if err != nil {
		slog.Error("recovery", "err", err)
		return
	}
	defer svc.Close(context.Background())

	mux := http.NewServeMux()
	mux.HandleFunc("POST /password/forgot", func(w http.ResponseWriter, r *http.Request) {
		// Same answer whether or not the address is known.
		svc.RequestReset(r.Context(), r.FormValue("email"), r.RemoteAddr)
		http.Redirect(w, r, "/login?sent=1", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /password/reset/{token}", func(w http.ResponseWriter, r *http.Request) {
		_, err := svc.ResetPassword(r.Context(), r.PathValue("token"), r.FormValue("new_password"), r.RemoteAddr)
		var fe *account.FieldError
		switch {
		case errors.Is(err, recovery.ErrInvalidToken):
			http.Error(w, recovery.MsgInvalidLink, http.StatusBadRequest)
		case errors.As(err, &fe):
			http.Error(w, fe.Message, http.StatusUnprocessableEntity)
		case err != nil:
			http.Error(w, "Please try again later.", http.StatusServiceUnavailable)
		default:
			http.Redirect(w, r, "/login", http.StatusSeeOther)
		}
	})
	_ = mux
}
