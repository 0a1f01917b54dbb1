// The transport's share of a data-parallel CNN step, without bnc: MPI_Allreduce of the CNN
// preset's flat gradient buffer (421,867 floats, 1.69 MB) and MPI_Allgather of one BN's
// statistics (65 doubles), 200 times each between barriers; prints the best and mean time.
// Built and run by tools/bench/run --distributed (mpicc from libopenmpi-dev).
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    enum { FLOATS = 421867, DOUBLES = 65, REPS = 200 };
    float *gradient = calloc(FLOATS, sizeof *gradient);
    double statistics[DOUBLES] = {0}, *gathered = calloc((size_t)size * DOUBLES, sizeof *gathered);
    double best[2] = {1e9, 1e9}, total[2] = {0, 0};
    for (int i = 0; i < REPS + 5; i++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double start = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, gradient, FLOATS, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        double reduce = MPI_Wtime() - start;
        MPI_Barrier(MPI_COMM_WORLD);
        start = MPI_Wtime();
        MPI_Allgather(statistics, DOUBLES, MPI_DOUBLE, gathered, DOUBLES, MPI_DOUBLE, MPI_COMM_WORLD);
        double gather = MPI_Wtime() - start;
        if (i < 5) continue;  // warm-up
        double t[2] = {reduce, gather};
        for (int k = 0; k < 2; k++) {
            total[k] += t[k];
            if (t[k] < best[k]) best[k] = t[k];
        }
    }
    if (rank == 0) {
        printf("MPI_Allreduce of the CNN gradient (1.69 MB), %d processes: best %.3f ms, mean %.3f ms\n", size,
               best[0] * 1e3, total[0] / REPS * 1e3);
        printf("MPI_Allgather of one BN's statistics (520 B each), %d processes: best %.1f us, mean %.1f us\n", size,
               best[1] * 1e6, total[1] / REPS * 1e6);
    }
    free(gradient);
    free(gathered);
    MPI_Finalize();
    return 0;
}
