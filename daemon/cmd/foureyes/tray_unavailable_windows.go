package main

// serviceUnavailable is what the tray says when the service does not answer: staff cannot
// start it themselves.
const serviceUnavailable = "the foureyes service is not running: ask IT (sc.exe query foureyes)"
