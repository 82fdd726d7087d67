package web

import "net/http"

type homePage struct{ base }

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "home", &homePage{base{Title: "Home"}})
}

type dashboardPage struct{ base }

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "dashboard", &dashboardPage{base{Title: "Dashboard"}})
}
