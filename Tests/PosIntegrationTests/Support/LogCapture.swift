import Foundation
import Logging
import PosServices
import Synchronization

/// The logger every test's service, server and store logs to. Under `scripts/test`
/// (`POS_TEST_LOG_CAPTURE` names a file) it writes every line, down to `trace`, as the service's
/// JSON lines with the request scope's metadata, so that `scripts/check-log-secrets` can prove no
/// key or secret reached a log line anywhere in the suite. Otherwise it writes nothing.
let testLogger: Logger = {
    guard let path = ProcessInfo.processInfo.environment["POS_TEST_LOG_CAPTURE"], !path.isEmpty,
          let capture = LogCaptureFile(path: path)
    else { return Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }) }
    return Logger(label: "test") { label in
        JSONLogHandler(label: label, level: .trace, metadataProvider: RequestLogScope.metadataProvider, write: capture.append)
    }
}()

/// One file of log lines, appended to from any task.
final class LogCaptureFile: Sendable {
    private let handle: Mutex<FileHandle>

    init?(path: String) {
        let url = URL(fileURLWithPath: path)
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else { return nil }
        self.handle = Mutex(handle)
    }

    func append(_ line: String) {
        handle.withLock { $0.write(Data((line + "\n").utf8)) }
    }
}
