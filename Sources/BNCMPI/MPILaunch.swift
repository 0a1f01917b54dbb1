/// What mpirun (Open MPI's launcher) tells a process it started, read from the
/// environment before anything of MPI is loaded: without `OMPI_COMM_WORLD_SIZE` the
/// process runs alone and bnc never touches MPI.
public struct MPILaunch: Equatable, Sendable {
    /// Processes in the job (`OMPI_COMM_WORLD_SIZE`).
    public var size: Int
    /// This process's rank (`OMPI_COMM_WORLD_RANK`).
    public var rank: Int
    /// Processes of the job on this machine (`OMPI_COMM_WORLD_LOCAL_SIZE`; 1 if absent).
    public var localSize: Int

    /// The launch described by `environment`, or nil when mpirun did not start this process
    /// (or set values that are not a rank in a positive size).
    public static func detect(_ environment: [String: String]) -> MPILaunch? {
        guard let size = environment["OMPI_COMM_WORLD_SIZE"].flatMap({ Int($0) }), size >= 1 else { return nil }
        let rank = environment["OMPI_COMM_WORLD_RANK"].flatMap { Int($0) } ?? 0
        guard (0..<size).contains(rank) else { return nil }
        let local = environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) } ?? 1
        return MPILaunch(size: size, rank: rank, localSize: max(1, local))
    }
}
