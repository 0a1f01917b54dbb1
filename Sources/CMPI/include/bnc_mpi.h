// bnc's door to Open MPI, loaded at run time (dlopen), so that bnc links no MPI library and
// runs alone on machines without one. Only bnc's MPI wrapper (Sources/BNCMPI) calls these;
// no MPI type crosses this header. Functions returning int give 0 on success and otherwise
// -1 with a one-line reason in `error` (NUL-terminated, at most `length` bytes).
#ifndef BNC_MPI_H
#define BNC_MPI_H

#include <stddef.h>

/// Loads libmpi (`library`, or "libmpi.so.40" when NULL), initializes MPI (threads:
/// funneled; errors returned, not fatal) and learns this process's rank and the size.
int bnc_mpi_start(const char *library, int *rank, int *size, char *error, size_t length);

/// In-place element-wise sum of `count` floats over all processes (MPI_Allreduce).
int bnc_mpi_sum_floats(float *values, long count, char *error, size_t length);

/// Every process's `count` bytes into `into` (size × count bytes, rank order; MPI_Allgather).
int bnc_mpi_allgather(const void *bytes, long count, void *into, char *error, size_t length);

/// Process `root`'s `count` bytes to every process, in place (MPI_Bcast).
int bnc_mpi_broadcast(void *bytes, long count, int root, char *error, size_t length);

/// Learns where the other processes run (pid and host; collectives) and watches those on
/// this machine (a thread, every 100 ms, and a SIGTERM handler): when one of them is lost
/// (ended without bnc ending it, e.g. killed), the lowest-ranked other process on the
/// machine writes one line naming it, followed by the stop note (bnc_mpi_set_stop_note),
/// to standard error, and every process there ends within 0.1 s (exit status 3), or by
/// mpirun's SIGTERM, whichever comes first.
int bnc_mpi_watch_peers(char *error, size_t length);

/// The text after "bnc: rank R (pid P on HOST) was lost; every process stops." in the
/// SIGTERM line (copied; up to 511 bytes).
void bnc_mpi_set_stop_note(const char *note);

/// The job is ending on purpose (every process knows why): a SIGTERM from now on ends the
/// process without the "was lost" line.
void bnc_mpi_ending(void);

/// After a failed collective: this process ends on purpose (as bnc_mpi_ending). Returns 1
/// with the "bnc: rank R (pid P on HOST) was lost; every process stops. NOTE" line in
/// `line` when a process on this machine was lost and this one reports it, 0 when another
/// process reports it, -1 when no process on this machine was lost.
int bnc_mpi_stop_after_failure(char *line, size_t length);

/// MPI_Finalize (after bnc_mpi_ending: a process that finished is no loss).
void bnc_mpi_finish(void);

/// MPI_Abort(MPI_COMM_WORLD, code): mpirun stops every process.
void bnc_mpi_abort(int code);

#endif
