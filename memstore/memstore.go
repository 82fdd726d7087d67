// Package memstore keeps hallpass's state in memory: it implements the
// storage contracts of hallpass (session.Store, with session.UserIndex and
// session.Sweeper, in SessionStore; account.Store, with account.Importer,
// account.RememberStore and account.TokenStore, in AccountStore) without
// any external service.
//
// Everything is lost when the process exits, and nothing is shared between
// processes, so memstore suits tests, development and a single server that
// can afford to sign everyone out on restart.
package memstore
