// Package sched sets and reads the Linux scheduling policy of threads: the
// password hashing threads and the hash worker processes run under
// SCHED_IDLE, so that the kernel gives them only CPU time no other thread
// wants. On other systems its functions do nothing and say so.
package sched
