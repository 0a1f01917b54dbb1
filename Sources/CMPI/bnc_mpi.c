// Open MPI loaded at run time. See include/bnc_mpi.h.
//
// Why dlopen rather than linking libmpi: a linked bnc needs libmpi.so.40 and its ~20
// dependent libraries on every machine, even to run `bnc infer` alone, and pays for loading
// them at every start; loaded only under mpirun, it needs nothing else. (Measured figures:
// docs/distributed.md.)
//
// The declarations below are Open MPI's ABI as far as bnc uses it (libmpi.so.40: Open MPI
// 3.0 to 5.x): handles are pointers to predefined objects whose symbols dlsym finds. When
// Open MPI's header is installed (libopenmpi-dev, which tools/setup installs) it is included
// first, so that these declarations must agree with it or this file does not compile, and
// bnc_mpi_start checks the symbol names against the header's macros.
#define _GNU_SOURCE
#include "bnc_mpi.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<mpi/mpi.h>)
#include <mpi/mpi.h>
#define BNC_HAVE_MPI_H 1
#endif
#endif

typedef struct ompi_communicator_t *MPI_Comm;
typedef struct ompi_datatype_t *MPI_Datatype;
typedef struct ompi_op_t *MPI_Op;
typedef struct ompi_errhandler_t *MPI_Errhandler;
int MPI_Init_thread(int *argc, char ***argv, int required, int *provided);
int MPI_Finalize(void);
int MPI_Comm_rank(MPI_Comm comm, int *rank);
int MPI_Comm_size(MPI_Comm comm, int *size);
int MPI_Comm_set_errhandler(MPI_Comm comm, MPI_Errhandler errhandler);
int MPI_Allreduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op, MPI_Comm comm);
int MPI_Allgather(const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf, int recvcount,
                  MPI_Datatype recvtype, MPI_Comm comm);
int MPI_Bcast(void *buffer, int count, MPI_Datatype datatype, int root, MPI_Comm comm);
int MPI_Abort(MPI_Comm comm, int errorcode);
int MPI_Error_string(int errorcode, char *string, int *resultlen);

enum { BNC_MPI_SUCCESS = 0, BNC_MPI_THREAD_FUNNELED = 1, BNC_MPI_ERROR_STRING = 256 };
#define BNC_MPI_IN_PLACE ((void *)1)

#ifdef BNC_HAVE_MPI_H
_Static_assert(MPI_SUCCESS == BNC_MPI_SUCCESS, "MPI_SUCCESS");
_Static_assert(MPI_THREAD_FUNNELED == BNC_MPI_THREAD_FUNNELED, "MPI_THREAD_FUNNELED");
_Static_assert(MPI_MAX_ERROR_STRING <= BNC_MPI_ERROR_STRING, "MPI_MAX_ERROR_STRING");
#define BNC_TEXT(x) #x
#define BNC_EXPANDED(x) BNC_TEXT(x)
#endif

// Entry points and predefined objects, from dlsym.
static __typeof__(MPI_Init_thread) *init_thread;
static __typeof__(MPI_Finalize) *finalize;
static __typeof__(MPI_Comm_rank) *comm_rank;
static __typeof__(MPI_Comm_size) *comm_size;
static __typeof__(MPI_Comm_set_errhandler) *set_errhandler;
static __typeof__(MPI_Allreduce) *allreduce;
static __typeof__(MPI_Allgather) *allgather;
static __typeof__(MPI_Bcast) *bcast;
static __typeof__(MPI_Abort) *abort_job;
static __typeof__(MPI_Error_string) *error_string;
static MPI_Comm world;
static MPI_Datatype type_float, type_byte;
static MPI_Op op_sum;
static MPI_Errhandler errors_return;
static int started, my_rank, world_size;

static int fail(char *error, size_t length, const char *what, int code) {
    char reason[BNC_MPI_ERROR_STRING] = "";
    int n = 0;
    if (error_string && error_string(code, reason, &n) != BNC_MPI_SUCCESS) snprintf(reason, sizeof reason, "error %d", code);
    snprintf(error, length, "%s failed: %s", what, reason);
    return -1;
}

int bnc_mpi_start(const char *library, int *rank, int *size, char *error, size_t length) {
    const char *name = library ? library : "libmpi.so.40";
    // RTLD_GLOBAL: Open MPI's own plugins (mca_*.so) resolve libmpi's symbols through it.
    void *lib = dlopen(name, RTLD_NOW | RTLD_GLOBAL);
    if (!lib) {
        snprintf(error, length, "cannot load Open MPI's library %s (%s); install openmpi-bin on every machine of the job (tools/setup does)",
                 name, dlerror());
        return -1;
    }
    struct { const char *symbol; void **slot; } table[] = {
        {"MPI_Init_thread", (void **)&init_thread}, {"MPI_Finalize", (void **)&finalize},
        {"MPI_Comm_rank", (void **)&comm_rank}, {"MPI_Comm_size", (void **)&comm_size},
        {"MPI_Comm_set_errhandler", (void **)&set_errhandler}, {"MPI_Allreduce", (void **)&allreduce},
        {"MPI_Allgather", (void **)&allgather}, {"MPI_Bcast", (void **)&bcast}, {"MPI_Abort", (void **)&abort_job},
        {"MPI_Error_string", (void **)&error_string}, {"ompi_mpi_comm_world", (void **)&world},
        {"ompi_mpi_float", (void **)&type_float}, {"ompi_mpi_byte", (void **)&type_byte},
        {"ompi_mpi_op_sum", (void **)&op_sum}, {"ompi_mpi_errors_return", (void **)&errors_return},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        *table[i].slot = dlsym(lib, table[i].symbol);
        if (!*table[i].slot) {
            snprintf(error, length, "%s has no symbol %s: bnc needs Open MPI 3 to 5 (libmpi.so.40), not another MPI", name,
                     table[i].symbol);
            return -1;
        }
    }
#ifdef BNC_HAVE_MPI_H
    // The header's handles name the symbols looked up above.
    const char *macros[] = {BNC_EXPANDED(MPI_COMM_WORLD), BNC_EXPANDED(MPI_FLOAT), BNC_EXPANDED(MPI_BYTE),
                            BNC_EXPANDED(MPI_SUM), BNC_EXPANDED(MPI_ERRORS_RETURN)};
    const char *symbols[] = {"ompi_mpi_comm_world", "ompi_mpi_float", "ompi_mpi_byte", "ompi_mpi_op_sum",
                             "ompi_mpi_errors_return"};
    for (size_t i = 0; i < 5; i++) {
        const char *at = strstr(macros[i], symbols[i]);
        size_t k = strlen(symbols[i]);
        if (!at || (at[k] != ')' && at[k] != ' ')) {
            snprintf(error, length, "Open MPI's header defines a handle as %s, not through %s", macros[i], symbols[i]);
            return -1;
        }
    }
    if (MPI_IN_PLACE != BNC_MPI_IN_PLACE) {
        snprintf(error, length, "Open MPI's header defines MPI_IN_PLACE differently");
        return -1;
    }
#endif
    int provided = 0;
    int code = init_thread(NULL, NULL, BNC_MPI_THREAD_FUNNELED, &provided);
    if (code != BNC_MPI_SUCCESS) return fail(error, length, "MPI_Init_thread", code);
    started = 1;
    if ((code = set_errhandler(world, errors_return)) != BNC_MPI_SUCCESS)
        return fail(error, length, "MPI_Comm_set_errhandler", code);
    if ((code = comm_rank(world, &my_rank)) != BNC_MPI_SUCCESS) return fail(error, length, "MPI_Comm_rank", code);
    if ((code = comm_size(world, &world_size)) != BNC_MPI_SUCCESS) return fail(error, length, "MPI_Comm_size", code);
    *rank = my_rank;
    *size = world_size;
    return 0;
}

// Counts above INT_MAX go in several calls (MPI counts are int).
enum { CHUNK = 1 << 30 };

int bnc_mpi_sum_floats(float *values, long count, char *error, size_t length) {
    for (long done = 0; done < count;) {
        int n = count - done > CHUNK ? CHUNK : (int)(count - done);
        int code = allreduce(BNC_MPI_IN_PLACE, values + done, n, type_float, op_sum, world);
        if (code != BNC_MPI_SUCCESS) return fail(error, length, "MPI_Allreduce", code);
        done += n;
    }
    return 0;
}

int bnc_mpi_allgather(const void *bytes, long count, void *into, char *error, size_t length) {
    if (count > INT_MAX) {
        snprintf(error, length, "MPI_Allgather of %ld bytes per process: more than MPI's int count", count);
        return -1;
    }
    int code = allgather(bytes, (int)count, type_byte, into, (int)count, type_byte, world);
    return code == BNC_MPI_SUCCESS ? 0 : fail(error, length, "MPI_Allgather", code);
}

int bnc_mpi_broadcast(void *bytes, long count, int root, char *error, size_t length) {
    for (long done = 0; done < count;) {
        int n = count - done > CHUNK ? CHUNK : (int)(count - done);
        int code = bcast((char *)bytes + done, n, type_byte, root, world);
        if (code != BNC_MPI_SUCCESS) return fail(error, length, "MPI_Bcast", code);
        done += n;
    }
    return 0;
}

void bnc_mpi_finish(void) {
    bnc_mpi_ending();
    if (started) finalize();
    started = 0;
}

void bnc_mpi_abort(int code) {
    if (abort_job) abort_job(world, code);
    _exit(code);
}

// MARK: Lost processes

enum { HOST = 64, SPACE = 96 };
struct peer {
    int32_t pid;
    char host[HOST];
    // The kernel's boot id and the pid namespace: processes see each other's pids exactly
    // when both agree (a host name can repeat across machines or containers).
    char space[SPACE];
};
static struct peer *peers;  // world_size entries, rank order
static int *local_peer;     // whether peer r's pid means something here
// Shared by this machine's processes of the job (a file in /dev/shm, unlinked once all have
// mapped it): stopped[r] is set by process r when it ends on purpose or because its
// launcher stopped it, so that the others do not take it for the lost one.
static volatile sig_atomic_t *stopped;
static char notes[2][512];
static volatile sig_atomic_t note_index;
static volatile sig_atomic_t ending;
static int reported;  // whether this process wrote the "was lost" line (atomic exchange)

void bnc_mpi_ending(void) {
    ending = 1;
    if (stopped) stopped[my_rank] = 1;
}

void bnc_mpi_set_stop_note(const char *note) {
    int next = 1 - note_index;
    snprintf(notes[next], sizeof notes[next], "%s", note);
    note_index = next;
}

// Whether pid runs (not gone, not a zombie): /proc/PID/stat's state after the ")".
// Async-signal-safe (open, read, close).
static int alive(int32_t pid) {
    if (kill(pid, 0) != 0 && errno == ESRCH) return 0;
    char path[32] = "/proc/";
    int p = 6;
    char digits[12];
    int d = 0;
    for (int32_t v = pid; v > 0 && d < 11; v /= 10) digits[d++] = (char)('0' + v % 10);
    while (d > 0) path[p++] = digits[--d];
    memcpy(path + p, "/stat", 6);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    char buffer[512];
    ssize_t n = read(fd, buffer, sizeof buffer - 1);
    close(fd);
    if (n <= 0) return 0;
    buffer[n] = 0;
    char *paren = strrchr(buffer, ')');
    if (!paren || paren[1] != ' ') return 1;
    return paren[2] != 'Z' && paren[2] != 'X';
}

// Appends text to buffer at *at (async-signal-safe).
static void put(char *buffer, size_t length, size_t *at, const char *text) {
    while (*text && *at + 1 < length) buffer[(*at)++] = *text++;
    buffer[*at] = 0;
}

static void put_int(char *buffer, size_t length, size_t *at, long value) {
    char digits[24];
    int d = 0;
    if (value == 0) digits[d++] = '0';
    for (; value > 0 && d < 23; value /= 10) digits[d++] = (char)('0' + value % 10);
    while (d > 0 && *at + 1 < length) buffer[(*at)++] = digits[--d];
    buffer[*at] = 0;
}

// The first lost peer on this machine (-1 when none): one that no longer runs and did not
// end on purpose or by its launcher's signal. And whether this process reports it: the
// lowest-ranked process on this machine other than the lost one does.
static int first_lost(int *reporter) {
    int lost = -1;
    *reporter = 0;
    if (!peers) return -1;
    for (int r = 0; r < world_size; r++) {
        if (r != my_rank && local_peer[r] && !(stopped && stopped[r]) && !alive(peers[r].pid)) {
            lost = r;
            break;
        }
    }
    if (lost < 0) return -1;
    for (int r = 0; r < world_size; r++) {
        if (r == lost || !local_peer[r]) continue;
        *reporter = r == my_rank;
        break;
    }
    return lost;
}

static void describe(int r, char *text, size_t length, size_t *at) {
    put(text, length, at, "rank ");
    put_int(text, length, at, r);
    put(text, length, at, " (pid ");
    put_int(text, length, at, peers[r].pid);
    put(text, length, at, " on ");
    put(text, length, at, peers[r].host);
    put(text, length, at, ")");
}

// The "was lost" line into `line` when a local peer was lost: returns 1 when this process
// reports it, 0 when another one does, -1 when no peer on this machine was lost.
// Async-signal-safe.
static int stop_line(char *line, size_t length) {
    int reporter = 0;
    int lost = first_lost(&reporter);
    if (lost < 0) return -1;
    if (!reporter) return 0;
    size_t at = 0;
    line[0] = 0;
    put(line, length, &at, "bnc: ");
    describe(lost, line, length, &at);
    put(line, length, &at, " was lost; every process stops.");
    const char *note = notes[note_index];
    if (note[0]) {
        put(line, length, &at, " ");
        put(line, length, &at, note);
    }
    return 1;
}

int bnc_mpi_stop_after_failure(char *line, size_t length) {
    int result = stop_line(line, length);
    bnc_mpi_ending();
    return result;
}

// Writes the "was lost" line once per process when this process reports a loss; returns
// whether a local peer was lost. Async-signal-safe.
static int report_loss(void) {
    char line[1024];
    int found = stop_line(line, sizeof line - 1);
    if (found == 1 && !__atomic_exchange_n(&reported, 1, __ATOMIC_SEQ_CST)) {
        size_t n = strlen(line);
        line[n] = '\n';
        ssize_t ignored = write(STDERR_FILENO, line, n + 1);
        (void)ignored;
    }
    return found >= 0;
}

static void on_term(int signal_number, siginfo_t *info, void *context) {
    (void)context;
    // From the launcher (mpirun or orted, this process's parent): the job is being stopped,
    // so this process is not a loss; from anyone else (a user's kill), it is.
    int by_launcher = info && info->si_pid == getppid();
    if (by_launcher && stopped) stopped[my_rank] = 1;
    if (!ending && by_launcher) report_loss();
    // End as the sender asked: by the signal.
    signal(signal_number, SIG_DFL);
    raise(signal_number);
}

// Looks at this machine's peers every 100 ms: a lost one ends this process at once (after
// the report), whether or not mpirun's SIGTERM gets through (a process in uninterruptible
// sleep, say in fsync, takes its signals late, and mpirun follows with SIGKILL after 1 s).
static void *watch(void *unused) {
    (void)unused;
    struct timespec pause = {0, 100 * 1000 * 1000};
    while (!ending) {
        nanosleep(&pause, NULL);
        if (ending) break;
        if (report_loss()) {
            bnc_mpi_ending();
            _exit(3);
        }
    }
    return NULL;
}

// Maps this machine's `stopped` flags: a /dev/shm file named after the host and the pid of
// the machine's lowest-ranked process, so every process of the job on the machine opens the
// same one. Returns 0, or -1 (the flags then stay unset: losses are still reported, but a
// process that ended first on purpose may be reported as lost too).
static int map_stopped(const char *host) {
    int lowest = -1;
    for (int r = 0; r < world_size && lowest < 0; r++)
        if (local_peer[r]) lowest = r;
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/bnc-mpi-%s-%d", host, (int)peers[lowest].pid);
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    if (fd < 0) return -1;
    size_t bytes = (size_t)world_size * sizeof(sig_atomic_t);
    if (ftruncate(fd, (off_t)bytes) != 0) {
        close(fd);
        return -1;
    }
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return -1;
    stopped = p;
    return 0;
}

static void unmap_stopped_name(const char *host) {
    int lowest = -1;
    for (int r = 0; r < world_size && lowest < 0; r++)
        if (local_peer[r]) lowest = r;
    if (lowest != my_rank) return;
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/bnc-mpi-%s-%d", host, (int)peers[lowest].pid);
    unlink(path);
}

int bnc_mpi_watch_peers(char *error, size_t length) {
    struct peer me;
    memset(&me, 0, sizeof me);
    me.pid = (int32_t)getpid();
    if (gethostname(me.host, HOST - 1) != 0) snprintf(me.host, HOST, "?");
    char boot[40] = "", namespace[48] = "";
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, boot, sizeof boot - 1);
        boot[n > 0 ? n : 0] = 0;
        close(fd);
        boot[strcspn(boot, "\n")] = 0;
    }
    ssize_t n = readlink("/proc/self/ns/pid", namespace, sizeof namespace - 1);
    namespace[n > 0 ? n : 0] = 0;
    // Without either, no peer counts as local: losses are then left to mpirun.
    if (boot[0] && namespace[0]) snprintf(me.space, SPACE, "%s %s", boot, namespace);
    struct peer *all = calloc((size_t)world_size, sizeof *all);
    int *local = calloc((size_t)world_size, sizeof *local);  // this process counts as local
    if (!all || !local) {
        free(all);
        free(local);
        snprintf(error, length, "out of memory for %d processes", world_size);
        return -1;
    }
    if (bnc_mpi_allgather(&me, sizeof me, all, error, length) != 0) {
        free(all);
        free(local);
        return -1;
    }
    for (int r = 0; r < world_size; r++) {
        all[r].host[HOST - 1] = 0;
        all[r].space[SPACE - 1] = 0;
        local[r] = r == my_rank || (me.space[0] && strcmp(all[r].space, me.space) == 0);
    }
    local_peer = local;
    peers = all;
    int mapped = map_stopped(me.host) == 0;
    // Every process has mapped the flags (or failed to) before the name goes.
    int all_mapped[1] = {mapped};
    int *statuses = calloc((size_t)world_size, sizeof *statuses);
    if (statuses && bnc_mpi_allgather(all_mapped, sizeof all_mapped, statuses, error, length) != 0) {
        free(statuses);
        return -1;
    }
    free(statuses);
    unmap_stopped_name(me.host);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_term;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, NULL);
    pthread_t thread;
    // The watcher takes no signals: SIGTERM goes to the other threads.
    sigset_t blocked, previous;
    sigfillset(&blocked);
    pthread_sigmask(SIG_SETMASK, &blocked, &previous);
    if (pthread_create(&thread, NULL, watch, NULL) == 0) pthread_detach(thread);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    return 0;
}
