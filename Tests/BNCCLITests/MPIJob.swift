import BNCData
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `mpirun -np N bnc …` for the tests: oversubscribed (N may exceed the cores), quiet (only
/// bnc's own lines on stderr), as root where the tests run as root. The tests need Open MPI's
/// `mpirun` (Debian `openmpi-bin`, which tools/setup installs); without it they are skipped,
/// unless `BNC_REQUIRE_MPI=1` (tools/test sets it), where they fail.
enum MPIJob {
    /// The mpirun on PATH, if any.
    static let mpirun: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// Whether missing mpirun is a failure (CI) rather than a reason to skip.
    static let required = ProcessInfo.processInfo.environment["BNC_REQUIRE_MPI"] == "1"

    /// Whether the MPI tests run.
    static let enabled = mpirun != nil || required

    static func arguments(_ processes: Int) -> [String] {
        ["-q", "--oversubscribe", "-np", "\(processes)"] + (geteuid() == 0 ? ["--allow-run-as-root"] : [])
    }

    /// The environment of the job: this process's, and under the address sanitizer without
    /// leak checking in the bnc processes. Open MPI unloads its plugins at MPI_Finalize and
    /// leaves allocations made there that LeakSanitizer can neither attribute nor suppress
    /// (their module is gone); every other check stays on, and bnc's own code is checked
    /// for leaks by the one-process runs of the same commands.
    static var environment: [String] {
        var entries = ProcessInfo.processInfo.environment
        if ChildProcess.sanitized {
            entries["ASAN_OPTIONS"] = [entries["ASAN_OPTIONS"], "detect_leaks=0"].compactMap { $0 }.joined(separator: ":")
        }
        return entries.map { "\($0.key)=\($0.value)" }
    }

    /// Starts `mpirun -np processes bnc arguments…` with outputs in `outputs`.
    static func spawn(_ processes: Int, _ arguments: [String], outputs: URL) throws -> ChildProcess {
        guard let mpirun else { throw MissingMPI() }
        return try ChildProcess.spawn(mpirun, Self.arguments(processes) + [CLIRunner.executable.path] + arguments,
                                      outputs: outputs, environment: environment)
    }

    /// Runs `mpirun -np processes bnc arguments…` to completion (outputs in a fresh folder
    /// inside `dir`).
    static func run(_ processes: Int, _ arguments: [String], in dir: URL) throws -> ChildProcess.Exit {
        let outputs = dir.appendingPathComponent("out-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: true)
        return try spawn(processes, arguments, outputs: outputs).wait()
    }

    /// Runs an MPMD job: `mpirun -np a bnc A… : -np b bnc B…` (each part a process count and
    /// its arguments), so that ranks get different arguments.
    static func run(parts: [(Int, [String])], in dir: URL) throws -> ChildProcess.Exit {
        guard let mpirun else { throw MissingMPI() }
        let outputs = dir.appendingPathComponent("out-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: true)
        var args = ["-q", "--oversubscribe"] + (geteuid() == 0 ? ["--allow-run-as-root"] : [])
        for (i, (n, a)) in parts.enumerated() {
            if i > 0 { args.append(":") }
            args += ["-np", "\(n)", CLIRunner.executable.path] + a
        }
        return try ChildProcess.spawn(mpirun, args, outputs: outputs, environment: environment).wait()
    }

    /// The pid of `rank` among mpirun's child processes (read from OMPI_COMM_WORLD_RANK in
    /// their environment), nil until it runs.
    static func pid(ofRank rank: Int, under mpirun: pid_t) -> pid_t? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        for entry in entries {
            guard let pid = pid_t(entry) else { continue }
            let stat = ChildProcess.read("/proc/\(pid)/stat")
            // "pid (comm) state ppid …"
            guard let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, pid_t(fields[1]) == mpirun else { continue }
            let environment = ChildProcess.read("/proc/\(pid)/environ").split(separator: "\0")
            if environment.contains(where: { $0 == "OMPI_COMM_WORLD_RANK=\(rank)" }) { return pid }
        }
        return nil
    }

    struct MissingMPI: Error, CustomStringConvertible {
        var description: String { "mpirun not found: install openmpi-bin (tools/setup does)" }
    }

    /// A small MNIST-format folder cut from Fashion-MNIST: the first 1000 training and 300
    /// test images (real data, so short runs learn something), made once (a 1 MB folder in
    /// the temporary directory, kept for the next test run).
    static func smallFashionMNIST() throws -> URL {
        try smallData.get()
    }

    private static let smallData: Result<URL, any Error> = Result {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bnc-mpi-fashion-1000")
        if FileManager.default.fileExists(atPath: folder.appendingPathComponent("t10k-labels-idx1-ubyte").path) { return folder }
        let (train, test) = try MNISTFolder.load()
        let staging = FileManager.default.temporaryDirectory.appendingPathComponent("bnc-mpi-fashion-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        func header(_ dims: [Int]) -> [UInt8] {
            [0, 0, 0x08, UInt8(dims.count)] + dims.flatMap { d in (0..<4).reversed().map { UInt8((d >> (8 * $0)) & 0xFF) } }
        }
        for (name, set, n) in [("train", train, 1000), ("t10k", test, 300)] {
            guard case .uint8(let pixels) = set.images.storage else { throw MissingMPI() }
            let k = set.images.pixelsPerImage
            try Data(header([n, set.images.height, set.images.width]) + pixels[0..<(n * k)])
                .write(to: staging.appendingPathComponent("\(name)-images-idx3-ubyte"))
            try Data(header([n]) + set.labels[0..<n]).write(to: staging.appendingPathComponent("\(name)-labels-idx1-ubyte"))
        }
        if rename(staging.path, folder.path) != 0 { try? FileManager.default.removeItem(at: staging) }
        return folder
    }
}
