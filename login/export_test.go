package login

// RaceGrace is raceGrace, for the tests of package login_test.
const RaceGrace = raceGrace
