// Package e2e holds hallpass's browser tests: a real Chromium, driven
// through the Chrome DevTools Protocol by chromedp, against the hallpass
// server built from this checkout and run as a process of its own.
//
// It is a module of its own so that chromedp and its dependencies stay out
// of the module graph of every application that imports hallpass's
// packages. Run it from the repository's root with
//
//	go -C e2e test ./...
//
// The tests skip when no Chromium is installed; HALLPASS_TEST_CHROMIUM
// names another browser binary, and HALLPASS_TEST_SCREENSHOTS a directory
// that keeps a screenshot of the page when a test fails.
package e2e
