// Package password hashes and checks passwords, reads the hash formats of
// other systems so their users can log in unchanged, and checks new
// passwords against a length-and-blocklist policy.
//
// # Hashing
//
// New hashes are argon2id in the PHC string format:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// with the salt and key in unpadded standard base64. A [Hasher] holds the
// parameters (the zero value means the defaults shown) and a limit on how
// many hashes run at once; [Hash], [Verify] and [NeedsRehash] use a shared
// zero-value Hasher.
//
// # Formats Verify accepts
//
//   - argon2id and argon2i PHC strings, version 19, any parameters within the
//     limits below (argon2-cffi, passlib, the reference argon2 tool);
//   - bcrypt: $2a$, $2b$ and $2y$ (the three are the same algorithm for
//     passwords of at most 72 bytes, and longer passwords are refused);
//   - Werkzeug (Flask): pbkdf2:sha256:N$salt$hex, pbkdf2:sha512:N, also sha1,
//     sha224 and sha384; the short forms pbkdf2$salt$hex and
//     pbkdf2:DIGEST$salt$hex, which Werkzeug 3.1 reads with 1,000,000
//     iterations; scrypt:N:r:p$salt$hex and scrypt$salt$hex (32768:8:1).
//     The salt is used as its literal UTF-8 bytes, as Werkzeug does;
//   - Django: pbkdf2_sha256$N$salt$base64, pbkdf2_sha1$N$salt$base64,
//     argon2$argon2id$..., bcrypt_sha256$$2b$... and bcrypt$$2b$....
//
// Werkzeug's deprecated plain formats (plain$$..., sha256$salt$hmac) and
// Argon2 version 16 are not accepted. A format Verify does not know is an
// error wrapping [ErrUnknownFormat]; a known format that cannot be read is an
// error wrapping [ErrMalformedHash]. Neither is reported as a wrong password.
//
// # Limits on stored hashes
//
// So that a hash planted in the database cannot tie up the server, Verify
// refuses (with [ErrMalformedHash]) hashes that would cost more than:
//
//   - argon2: memory above 1 GiB (m=1048576), more than 100 passes (t=100),
//     or memory times passes above 4 GiB (m*t > 4194304), or p above 255;
//   - PBKDF2: more than 10,000,000 iterations;
//   - scrypt: any parameters hashlib.scrypt refuses when Werkzeug calls it
//     (maxmem = 132*N*r*p must stay below 2^31, and N*r*128 bytes plus
//     buffers must fit in it), and more than 1 GiB of memory (128*N*r bytes);
//   - bcrypt: cost above 16.
//
// # Passwords
//
// [Hash] normalizes a password to Unicode Normalization Form C before
// hashing it (NIST SP 800-63B 5.1.1.2), so "Grüße" typed with a composed ü
// or with u and a combining diaeresis is the same password. [Verify] tries
// the NFC form first and, when the bytes given differ from it, those bytes
// too, so a hash made elsewhere from unnormalized input still verifies;
// [Hasher.VerifyRehash] then asks for a rehash, which stores the NFC form.
// Both refuse passwords that are not valid UTF-8 ([ErrInvalidUTF8]) or longer
// than [MaxPasswordLength] code points ([ErrTooLong]) without computing
// anything. Lengths are counted in Unicode code points after NFC
// normalization, the same way [Policy.Check] counts them.
package password
