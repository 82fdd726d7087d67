package sessiontest

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hallpass/hallpass/session"
)

// ScaleSessionsPerUser is how many sessions each user of ScaleRecord
// holds: a user signed in on two devices, on average.
const ScaleSessionsPerUser = 2

// scaleUserAgents are the clients of ScaleRecord's sessions: real sites
// see a few hundred distinct strings for millions of sessions.
var scaleUserAgents = []string{
	"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
}

// ScaleRecord returns the record of session i of a store filled for a
// scale benchmark, as the login manager stores it after a password login:
// the user's snapshot, the time the password was entered and a 32-byte
// CSRF secret, each JSON-encoded as session.Session.Put encodes them, and
// the client's address and browser. Sessions i and i+1 (i even) belong to
// the same user.
func ScaleRecord(i int, now, expiry time.Time) *session.Record {
	userID := strconv.Itoa(100000 + i/ScaleSessionsPerUser)
	snapshot, _ := json.Marshal(struct {
		ID       string    `json:"id"`
		Username string    `json:"u"`
		Email    string    `json:"e,omitempty"`
		PwAt     time.Time `json:"p"`
	}{userID, "user" + userID, "user" + userID + "@example.com", now.Add(-720 * time.Hour).Truncate(time.Millisecond)})
	authAt, _ := json.Marshal(now)
	secret := make([]byte, 32)
	rand.Read(secret)
	csrfSecret, _ := json.Marshal(secret) // base64, as a []byte encodes
	return &session.Record{
		UserID:    userID,
		Values:    map[string][]byte{"_user": snapshot, "_auth_at": authAt, "_csrf": csrfSecret},
		CreatedAt: now,
		LastSeen:  now,
		Expiry:    expiry,
		IP:        fmt.Sprintf("198.51.%d.%d", i>>8&0xff, i&0xff),
		UserAgent: scaleUserAgents[i%len(scaleUserAgents)],
	}
}

// ScaleID returns a fresh session ID for session i, as the Manager derives
// one from a random token.
func ScaleID(i int) string {
	var token [24]byte
	binary.BigEndian.PutUint64(token[:], uint64(i))
	rand.Read(token[8:])
	return session.IDOf(token[:])
}
