import Foundation
import OpsCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writing to stdout and stderr. stdout goes through `print` (buffered); ``flush()`` pushes it out when a line must
/// appear now (following, progress). stderr is written unbuffered.
enum Console {
    /// Prints one line to stdout.
    static func out(_ line: String) {
        print(line)
    }

    /// Writes `text` to stdout without a line break (for `\r` status lines).
    static func raw(_ text: String) {
        print(text, terminator: "")
    }

    /// Writes one line to stderr.
    static func error(_ line: String) {
        FileHandle.standardError.write(Data((line.hasSuffix("\n") ? line : line + "\n").utf8))
    }

    /// Writes one line to stderr, dimmed when stderr is a terminal.
    static func dimError(_ line: String) {
        error(Terminal.isTTY(STDERR_FILENO) ? "\u{1B}[2m\(line)\u{1B}[0m" : line)
    }

    /// Flushes buffered stdout.
    static func flush() {
        fflush(nil)
    }
}

/// The few terminal facilities the CLI needs: TTY checks, width, and reading a secret without echo.
enum Terminal {
    /// Whether `descriptor` is a terminal.
    static func isTTY(_ descriptor: Int32) -> Bool {
        isatty(descriptor) == 1
    }

    /// Columns of the terminal on stdout; `$COLUMNS` or 80 when it cannot be asked.
    static func width() -> Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 {
            return Int(size.ws_col)
        }
        if let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), columns > 0 {
            return columns
        }
        return 80
    }

    /// Reads one line from the terminal on stdin with echo off, after writing `prompt` to stderr.
    ///
    /// Echo is restored afterwards, also when the user presses Ctrl-C (the process then exits with 130).
    /// - Returns: the line without its line break, or `nil` at end of input.
    static func readSecret(prompt: String) -> String? {
        FileHandle.standardError.write(Data(prompt.utf8))
        guard tcgetattr(STDIN_FILENO, &savedTerminalSettings) == 0 else { return readLine() }
        var quiet = savedTerminalSettings
        quiet.c_lflag &= ~tcflag_t(ECHO)
        quiet.c_lflag |= tcflag_t(ECHONL)
        let previousHandler = signal(SIGINT) { _ in
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &savedTerminalSettings)
            var newline: UInt8 = 10
            _ = write(STDERR_FILENO, &newline, 1)
            _exit(130)
        }
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
        let line = readLine(strippingNewline: true)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &savedTerminalSettings)
        signal(SIGINT, previousHandler)
        return line
    }

    /// Makes Ctrl-C end the current line on stdout before exiting with 130, so a `\r` status line is not left
    /// half-overwritten under the shell's prompt.
    static func newlineOnInterrupt() {
        signal(SIGINT) { _ in
            var newline: UInt8 = 10
            _ = write(STDOUT_FILENO, &newline, 1)
            _exit(130)
        }
    }
}

/// The terminal settings in force before ``Terminal/readSecret(prompt:)`` turned echo off, for its Ctrl-C handler.
/// Written before the handler is installed and only read by it, on the one thread that prompts.
nonisolated(unsafe) private var savedTerminalSettings = termios()

/// State names in colour on a terminal: green for succeeded, red for failed and timed_out, yellow for
/// needs_attention, cyan while in flight, dim for cancelled. Off when stdout is not a terminal, when `NO_COLOR` is set
/// to anything (no-color.org) or `TERM` is `dumb`.
enum Colour {
    static let enabled: Bool = {
        let environment = ProcessInfo.processInfo.environment
        return Terminal.isTTY(STDOUT_FILENO) && (environment["NO_COLOR"] ?? "").isEmpty && environment["TERM"] != "dumb"
    }()

    /// The SGR code of a state; `nil` for queued (and anything that is not a state).
    static func code(_ state: String) -> String? {
        switch JobState(rawValue: state) {
        case .succeeded: "32"
        case .failed, .timedOut: "31"
        case .needsAttention, .held: "33"
        case .submitting, .accepted, .running: "36"
        case .cancelled, .skipped: "2"
        case .queued, .waiting, nil: nil
        }
    }

    /// `text` with its last word coloured when that word is a state (`running`, `queued → running`) and colour is on.
    static func states(in text: String) -> String {
        guard enabled, let last = text.split(separator: " ").last, let code = code(String(last)) else { return text }
        return text.dropLast(last.count) + "\u{1B}[\(code)m\(last)\u{1B}[0m"
    }
}
