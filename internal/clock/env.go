package clock

// FileEnv names the file that holds the fake time of a build tagged
// ekstoken_fakeclock, RFC 3339 with nanoseconds. Without it, or with a
// file that does not parse, Now is the real time. Release builds ignore
// it.
const FileEnv = "EKSTOKEN_FAKE_NOW_FILE"
