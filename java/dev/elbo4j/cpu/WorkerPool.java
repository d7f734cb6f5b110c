package dev.elbo4j.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A persistent pool that runs one {@link RangeTask} at a time over {@code [0, n)} cut into fixed chunks, the
 * calling thread working beside {@code threads - 1} daemon workers. Which thread runs a chunk never changes a
 * result: tasks write disjoint outputs per chunk, and reductions keep one partial per chunk that the caller adds in
 * chunk order. Nothing is allocated per call.
 */
final class WorkerPool implements AutoCloseable {

    /** A body over a range of items; {@code worker} (in [0, threads)) selects per-thread scratch memory. */
    abstract static class RangeTask {
        abstract void run(int from, int to, int worker);
    }

    /**
     * How long a worker spins for the next task before parking. Short: on a busy machine a spinning worker takes the
     * core from the threads that have work (measured: spinning through the whole step gained nothing).
     */
    private static final long SPIN_NANOS = 5_000;
    /**
     * Below this many element operations a task runs on the calling thread alone: waking a parked worker costs
     * tens of microseconds, more than the work saves.
     */
    static final long PARALLEL_WORK = 1 << 17;

    private final int threads;
    private final Thread[] workers;
    /** The generation (high 32 bits) and the next unclaimed chunk (low 32 bits) of the current task. */
    private final AtomicLong ticket = new AtomicLong();
    private final AtomicInteger pendingChunks = new AtomicInteger();
    private volatile int generation;
    private volatile boolean closed;
    /**
     * The task of generation g is in {@code jobs[g & 1]}: a worker that wakes late for generation g reads that slot
     * only after seeing g in the ticket, and the slot is rewritten only for g + 2, after every chunk of g and g + 1
     * has finished, so no worker ever combines one task's fields with another's chunk count.
     */
    private final Job[] jobs = {new Job(), new Job()};

    /** One generation's task and how it is cut. */
    private static final class Job {
        RangeTask task;
        int items;
        int chunkSize;
        int chunks;
    }

    WorkerPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1 but is " + threads);
        }
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            int worker = i + 1;
            workers[i] = Thread.ofPlatform().daemon().name("elbo4j-cpu-" + worker).unstarted(() -> work(worker));
            try {
                workers[i].start();
            } catch (OutOfMemoryError failure) {
                // The operating system's thread limit: the workers started so far end, the caller gets the reason.
                close();
                throw new IllegalStateException("cannot start the CPU backend's thread " + (worker + 1) + " of "
                        + threads + " (" + failure.getMessage() + "): use fewer threads", failure);
            }
        }
    }

    int threads() {
        return threads;
    }

    /**
     * Runs {@code task} over {@code [0, items)} in chunks of {@code chunkSize} (the last may be shorter), returning
     * when all are done. With one chunk, one thread, or less than {@link #PARALLEL_WORK} of {@code work} (element
     * operations in all), the caller runs everything.
     */
    void run(RangeTask task, int items, int chunkSize, long work) {
        if (items <= 0) {
            return;
        }
        int chunkCount = (int) ((items + (long) chunkSize - 1) / chunkSize);
        if (chunkCount == 1 || workers.length == 0 || work < PARALLEL_WORK) {
            for (int c = 0; c < chunkCount; c++) {
                task.run(c * chunkSize, Math.min(items, (c + 1) * chunkSize), 0);
            }
            return;
        }
        if (closed) {
            throw new IllegalStateException("the CPU backend is closed");
        }
        int next = generation + 1;
        Job job = jobs[next & 1];
        job.task = task;
        job.items = items;
        job.chunkSize = chunkSize;
        job.chunks = chunkCount;
        pendingChunks.set(chunkCount);
        ticket.set((long) next << 32);
        generation = next; // publishes the fields above to the workers
        for (Thread worker : workers) {
            LockSupport.unpark(worker);
        }
        runChunks(0, next);
        // Wait for the workers' last chunks: spin briefly, then yield, so that a worker descheduled on a busy
        // machine gets the core back instead of the caller burning it.
        long yieldAfter = System.nanoTime() + SPIN_NANOS;
        while (pendingChunks.get() > 0) {
            if (System.nanoTime() < yieldAfter) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }
    }

    /** Chunks of size {@code chunk} that split {@code items} into about {@code perThread} pieces per thread. */
    int chunkFor(int items, int perThread, int minimum) {
        int pieces = threads * perThread;
        return Math.max(minimum, (items + pieces - 1) / pieces);
    }

    /**
     * Claims and runs chunks of generation {@code expected} until none is left. The ticket is read first: only while
     * it still shows {@code expected} with a chunk unclaimed is that generation's job stable, and the claim (a CAS on
     * the whole ticket) fails once the generation has moved on.
     */
    private void runChunks(int worker, int expected) {
        Job job = jobs[expected & 1];
        while (true) {
            long claim = ticket.get();
            int chunk = (int) claim;
            if ((int) (claim >>> 32) != expected || chunk >= job.chunks) {
                return;
            }
            if (!ticket.compareAndSet(claim, claim + 1)) {
                continue;
            }
            try {
                job.task.run(chunk * job.chunkSize, Math.min(job.items, (chunk + 1) * job.chunkSize), worker);
            } finally {
                pendingChunks.decrementAndGet();
            }
        }
    }

    private void work(int worker) {
        int seen = generation;
        while (!closed) {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (generation == seen && !closed) {
                if (System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
            }
            if (closed) {
                return;
            }
            seen = generation;
            runChunks(worker, seen);
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread worker : workers) {
            LockSupport.unpark(worker);
        }
    }
}
