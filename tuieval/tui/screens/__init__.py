"""The app's screens: suites, live, runs, scoreboard, slice cases, inspector, compare and the modals."""
