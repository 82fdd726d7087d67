package web

import "strings"

// device names the browser and system of a User-Agent header for a list
// of sessions, as in "Firefox on Linux", "Safari on iPhone", "Chrome on
// Windows" or "curl". It is a guess for people to recognise their own
// devices, not a security signal (the header is whatever the client
// sends); anything it does not recognise is "Unknown device".
func device(userAgent string) string {
	ua := userAgent
	for _, t := range tools {
		if strings.HasPrefix(strings.ToLower(ua), t.prefix) {
			return t.name
		}
	}
	browser := ""
	for _, b := range browsers {
		if b.match(ua) {
			browser = b.name
			break
		}
	}
	if browser == "" {
		return "Unknown device"
	}
	for _, o := range systems {
		if strings.Contains(ua, o.token) {
			return browser + " on " + o.name
		}
	}
	return browser
}

// tools are command-line clients and libraries, by lowercased prefix.
var tools = []struct{ prefix, name string }{
	{"curl/", "curl"},
	{"wget/", "Wget"},
	{"httpie/", "HTTPie"},
	{"python-requests/", "Python script"},
	{"python-urllib/", "Python script"},
	{"go-http-client/", "Go program"},
	{"postmanruntime/", "Postman"},
}

// browsers in the order they must be tested: Edge and Opera claim to be
// Chrome, Chrome claims to be Safari.
var browsers = []struct {
	name  string
	match func(ua string) bool
}{
	{"Edge", has("Edg/", "EdgA/", "EdgiOS/")},
	{"Opera", has("OPR/", "Opera")},
	{"Samsung Internet", has("SamsungBrowser/")},
	{"Firefox", has("Firefox/", "FxiOS/")},
	{"Chrome", has("Chrome/", "CriOS/", "Chromium/")},
	{"Safari", func(ua string) bool {
		return strings.Contains(ua, "Safari/") && strings.Contains(ua, "Version/")
	}},
}

func has(tokens ...string) func(string) bool {
	return func(ua string) bool {
		for _, t := range tokens {
			if strings.Contains(ua, t) {
				return true
			}
		}
		return false
	}
}

// systems in the order they must be tested: iPhones say "like Mac OS X",
// Android says "Linux", ChromeOS says "X11".
var systems = []struct{ token, name string }{
	{"iPhone", "iPhone"},
	{"iPad", "iPad"},
	{"Android", "Android"},
	{"CrOS", "ChromeOS"},
	{"Windows", "Windows"},
	{"Macintosh", "macOS"},
	{"Mac OS X", "macOS"},
	{"Linux", "Linux"},
	{"X11", "Linux"},
}
