package rusted_ring.bench;

import com.lmax.disruptor.BatchEventProcessor;
import com.lmax.disruptor.BatchEventProcessorBuilder;
import com.lmax.disruptor.BlockingWaitStrategy;
import com.lmax.disruptor.BusySpinWaitStrategy;
import com.lmax.disruptor.EventHandler;
import com.lmax.disruptor.RingBuffer;
import com.lmax.disruptor.SequenceBarrier;
import com.lmax.disruptor.SleepingWaitStrategy;
import com.lmax.disruptor.WaitStrategy;
import com.lmax.disruptor.YieldingWaitStrategy;

import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The shapes of the Disruptor's own throughput tests (its perftest sources,
 * package com.lmax.disruptor.sequenced), one run at a time, for bench/run.py
 * to run alternately with rusted_ring's bench/c/bench_disruptor.c, which has
 * the same shapes, ring size and event counts.
 *
 * <ul>
 * <li>{@code 1p1c}: OneToOneSequencedThroughputTest. A single-producer ring of
 * RING_SIZE events holding one {@code long}; the producer does next() / set the
 * value / publish() per event; one BatchEventProcessor adds the values up.</li>
 * <li>{@code 1p1c-batch10}: OneToOneSequencedBatchThroughputTest. The producer
 * claims 10 with next(10), writes its iteration number into each and publishes
 * the range.</li>
 * <li>{@code 1p3c}: OneToThreeSequencedThroughputTest. Three processors on one
 * barrier each take every event (the Disruptor's test uses an 8192-slot ring
 * and three different operations; here every shape uses the same ring and
 * every consumer sums, so the C side can match it exactly).</li>
 * <li>{@code 3p1c}: ThreeToOneSequencedThroughputTest. A multi-producer ring;
 * three publisher threads each publish 0 .. EVENTS/3 - 1, started together.</li>
 * <li>{@code 1p3c-pipeline}: OneToThreePipelineSequencedThroughputTest. A
 * STAGE_RING-slot ring of FunctionEvents; three processors in a line, each on a
 * barrier of the one before: step one stores operand one + operand two, step
 * two that + 3, step three counts the events whose result has bit 2 set (and
 * sums operand one, for the check).</li>
 * <li>{@code 1p3c-diamond}: OneToThreeDiamondSequencedThroughputTest. Fizz and
 * buzz on one barrier, fizzbuzz on a barrier of both, counting the events that
 * are both (and summing the values).</li>
 * </ul>
 *
 * <p>Each consumer counts its events and sums their values, and both are
 * checked. The wait strategy is chosen per run: yield, spin, block and sleep
 * are YieldingWaitStrategy, BusySpinWaitStrategy, BlockingWaitStrategy and
 * SleepingWaitStrategy. The producers read the clock every CAP_CHECK events
 * and stop at the run's cap, so that a shape with more threads than CPUs and
 * busy-spinning consumers reports a capped figure instead of hanging.
 */
final class Shapes
{
    static final int RING_SIZE = 1024 * 64;
    /** The pipeline and diamond tests' BUFFER_SIZE. */
    static final int STAGE_RING = 1024 * 8;
    private static final long OPERAND_TWO_INITIAL = 777L;
    static final int BATCH = 10;
    private static final int CAP_CHECK = 4096;

    /** The event: one long, like the Disruptor's perftest ValueEvent. */
    static final class ValueEvent
    {
        long value;
    }

    /** Adds the values up and counts them; notes the time of the last one it was due. */
    static final class Summer implements EventHandler<ValueEvent>
    {
        private final long expected;
        private final CountDownLatch latch;
        long sum;
        long count;
        long endNanos;

        Summer(final long expected, final CountDownLatch latch)
        {
            this.expected = expected;
            this.latch = latch;
        }

        @Override
        public void onEvent(final ValueEvent event, final long sequence, final boolean endOfBatch)
        {
            sum += event.value;
            if (++count == expected)
            {
                endNanos = System.nanoTime();
                latch.countDown();
            }
        }
    }

    /** OneToThreePipelineSequencedThroughputTest's FunctionEvent. */
    static final class FunctionEvent
    {
        long operandOne;
        long operandTwo;
        long stepOneResult;
        long stepTwoResult;
    }

    /** OneToThreeDiamondSequencedThroughputTest's FizzBuzzEvent. */
    static final class FizzBuzzEvent
    {
        long value;
        boolean fizz;
        boolean buzz;

        void setValue(final long v)
        {
            fizz = false;
            buzz = false;
            value = v;
        }
    }

    /** The last stage of both: notes the time of the event it was due last. */
    abstract static class LastStage
    {
        private final long expected;
        private final CountDownLatch latch;
        long count;
        long counted;
        long sum;
        long endNanos;

        LastStage(final long expected, final CountDownLatch latch)
        {
            this.expected = expected;
            this.latch = latch;
        }

        final void taken()
        {
            if (++count == expected)
            {
                endNanos = System.nanoTime();
                latch.countDown();
            }
        }
    }

    static final class StepThree extends LastStage implements EventHandler<FunctionEvent>
    {
        StepThree(final long expected, final CountDownLatch latch)
        {
            super(expected, latch);
        }

        @Override
        public void onEvent(final FunctionEvent e, final long sequence, final boolean endOfBatch)
        {
            if ((e.stepTwoResult & 4L) == 4L)
            {
                counted++;
            }
            sum += e.operandOne;
            taken();
        }
    }

    static final class FizzBuzz extends LastStage implements EventHandler<FizzBuzzEvent>
    {
        FizzBuzz(final long expected, final CountDownLatch latch)
        {
            super(expected, latch);
        }

        @Override
        public void onEvent(final FizzBuzzEvent e, final long sequence, final boolean endOfBatch)
        {
            if (e.fizz && e.buzz)
            {
                counted++;
            }
            sum += e.value;
            taken();
        }
    }

    /** What step three counts over n events of the producer below. */
    static long pipelineExpected(final long n)
    {
        long count = 0;
        long operandTwo = OPERAND_TWO_INITIAL;
        for (long i = 0; i < n; i++)
        {
            final long stepTwo = i + operandTwo-- + 3L;
            if ((stepTwo & 4L) == 4L)
            {
                count++;
            }
        }
        return count;
    }

    /** 1p3c-pipeline and 1p3c-diamond: three stages, one producer (next / set / publish). */
    static Result runStages(final String shape, final WaitStrategy ws, final long events,
                            final double capSeconds) throws InterruptedException
    {
        final Result r = new Result();
        r.threads = 4;
        final boolean diamond = shape.equals("1p3c-diamond");
        final CountDownLatch allTaken = new CountDownLatch(1);
        final BatchEventProcessorBuilder builder = new BatchEventProcessorBuilder();
        final BatchEventProcessor<?>[] processors = new BatchEventProcessor[3];
        final LastStage last;
        final RingBuffer<FunctionEvent> fr;
        final RingBuffer<FizzBuzzEvent> zr;
        if (diamond)
        {
            fr = null;
            zr = RingBuffer.createSingleProducer(FizzBuzzEvent::new, STAGE_RING, ws);
            final SequenceBarrier first = zr.newBarrier();
            final BatchEventProcessor<FizzBuzzEvent> fizz = builder.build(zr, first,
                (e, seq, end) -> { if (0 == (e.value % 3)) e.fizz = true; });
            final BatchEventProcessor<FizzBuzzEvent> buzz = builder.build(zr, first,
                (e, seq, end) -> { if (0 == (e.value % 5)) e.buzz = true; });
            final FizzBuzz join = new FizzBuzz(events, allTaken);
            final BatchEventProcessor<FizzBuzzEvent> both = builder.build(zr,
                zr.newBarrier(fizz.getSequence(), buzz.getSequence()), join);
            zr.addGatingSequences(both.getSequence());
            processors[0] = fizz;
            processors[1] = buzz;
            processors[2] = both;
            last = join;
        }
        else
        {
            zr = null;
            fr = RingBuffer.createSingleProducer(FunctionEvent::new, STAGE_RING, ws);
            final BatchEventProcessor<FunctionEvent> one = builder.build(fr, fr.newBarrier(),
                (e, seq, end) -> e.stepOneResult = e.operandOne + e.operandTwo);
            final BatchEventProcessor<FunctionEvent> two = builder.build(fr, fr.newBarrier(one.getSequence()),
                (e, seq, end) -> e.stepTwoResult = e.stepOneResult + 3L);
            final StepThree stepThree = new StepThree(events, allTaken);
            final BatchEventProcessor<FunctionEvent> three = builder.build(fr,
                fr.newBarrier(two.getSequence()), stepThree);
            fr.addGatingSequences(three.getSequence());
            processors[0] = one;
            processors[1] = two;
            processors[2] = three;
            last = stepThree;
        }
        final Thread[] threads = new Thread[3];
        for (int k = 0; k < 3; k++)
        {
            threads[k] = new Thread(processors[k], "stage-" + k);
            threads[k].setDaemon(true);
            threads[k].start();
        }
        for (final BatchEventProcessor<?> p : processors)
        {
            while (!p.isRunning())
            {
                Thread.onSpinWait();
            }
        }
        final long start = System.nanoTime();
        final long capNanos = (long) (capSeconds * 1e9);
        final long deadline = start + capNanos;
        long made = events;
        long operandTwo = OPERAND_TWO_INITIAL;
        for (long i = 0; i < events; i++)
        {
            if ((i % CAP_CHECK) == 0 && System.nanoTime() - deadline > 0)
            {
                made = i;
                break;
            }
            if (diamond)
            {
                final long seq = zr.next();
                zr.get(seq).setValue(i);
                zr.publish(seq);
            }
            else
            {
                final long seq = fr.next();
                final FunctionEvent e = fr.get(seq);
                e.operandOne = i;
                e.operandTwo = operandTwo--;
                fr.publish(seq);
            }
        }
        r.capped = made < events;
        long end = 0;
        if (r.capped)
        {
            final long published = diamond ? zr.getCursor() : fr.getCursor();
            while (processors[2].getSequence().get() < published && System.nanoTime() - start < 2 * capNanos)
            {
                Thread.sleep(1);
            }
            end = System.nanoTime();
        }
        else
        {
            allTaken.await(Math.max(capNanos, 1_000_000_000L), TimeUnit.NANOSECONDS);
        }
        for (final BatchEventProcessor<?> p : processors)
        {
            p.halt();
        }
        for (final Thread t : threads)
        {
            t.join();
        }
        r.done = last.count;
        r.seconds = (Math.max(end, last.endNanos) - start) * 1e-9;
        if (!r.capped)
        {
            final long want = diamond ? (events + 14) / 15 : pipelineExpected(events);
            if (last.count != events || last.counted != want || last.sum != triangle(events))
            {
                r.seconds = (System.nanoTime() - start) * 1e-9;
                return failed(r, String.format(Locale.ROOT,
                    "the last stage took %d events (of %d), counted %d (expected %d), summed %d (expected %d)",
                    last.count, events, last.counted, want, last.sum, triangle(events)));
            }
        }
        return r;
    }

    /** What one run measured (the fields of bench/c/serve.h's reply). */
    static final class Result
    {
        long done;
        double seconds;
        boolean ok = true;
        boolean capped;
        int threads;
        String error = "";
    }

    static WaitStrategy strategy(final String name)
    {
        switch (name)
        {
            case "yield":
                return new YieldingWaitStrategy();
            case "spin":
                return new BusySpinWaitStrategy();
            case "block":
                return new BlockingWaitStrategy();
            case "sleep":
                return new SleepingWaitStrategy();
            default:
                return null;
        }
    }

    /** Events 0 .. n-1 add up to n(n-1)/2. */
    static long triangle(final long n)
    {
        return n == 0 ? 0 : n * (n - 1) / 2;
    }

    private static Result failed(final Result r, final String why)
    {
        r.ok = false;
        r.error = why;
        return r;
    }

    /** Producer loop of 1p1c, 1p3c and each 3p1c publisher: event i carries i. Returns events made. */
    static long produceEvents(final RingBuffer<ValueEvent> rb, final long n, final long deadline)
    {
        for (long i = 0; i < n; i++)
        {
            if ((i % CAP_CHECK) == 0 && System.nanoTime() - deadline > 0)
            {
                return i;
            }
            final long seq = rb.next();
            rb.get(seq).value = i;
            rb.publish(seq);
        }
        return n;
    }

    /** Producer loop of 1p1c-batch10: n iterations of next(10) / fill / publish(lo, hi). */
    static long produceBatches(final RingBuffer<ValueEvent> rb, final long n, final long deadline)
    {
        for (long i = 0; i < n; i++)
        {
            if ((i % (CAP_CHECK / BATCH)) == 0 && System.nanoTime() - deadline > 0)
            {
                return i;
            }
            final long hi = rb.next(BATCH);
            final long lo = hi - (BATCH - 1);
            for (long s = lo; s <= hi; s++)
            {
                rb.get(s).value = i;
            }
            rb.publish(lo, hi);
        }
        return n;
    }

    static Result run(final String shape, final String wait, final String form, final long events,
                      final double capSeconds) throws InterruptedException
    {
        final Result r = new Result();
        final int producers = shape.equals("3p1c") ? 3 : 1;
        final int consumers = shape.equals("1p3c") ? 3 : 1;
        final boolean batch = shape.equals("1p1c-batch10");
        final WaitStrategy ws = strategy(wait);
        final boolean stages = shape.equals("1p3c-pipeline") || shape.equals("1p3c-diamond");
        if (!(shape.equals("1p1c") || batch || shape.equals("1p3c") || shape.equals("3p1c") || stages))
        {
            return failed(r, "unknown shape " + shape);
        }
        if (ws == null)
        {
            return failed(r, "unknown wait strategy " + wait + " (yield, spin, block, sleep)");
        }
        if (!form.equals("claim"))
        {
            return failed(r, "form " + form + ": the Disruptor's producer claims (next / publish)");
        }
        if (stages)
        {
            return runStages(shape, ws, events, capSeconds);
        }
        final int per = batch ? BATCH : producers;
        if (events % per != 0)
        {
            return failed(r, shape + " needs an event count divisible by " + per);
        }
        r.threads = producers + consumers;
        final long perProducer = batch ? events / BATCH : events / producers;

        final RingBuffer<ValueEvent> rb = producers == 1
            ? RingBuffer.createSingleProducer(ValueEvent::new, RING_SIZE, ws)
            : RingBuffer.createMultiProducer(ValueEvent::new, RING_SIZE, ws);
        final SequenceBarrier barrier = rb.newBarrier();
        final CountDownLatch allTaken = new CountDownLatch(consumers);
        final Summer[] handlers = new Summer[consumers];
        @SuppressWarnings("unchecked")
        final BatchEventProcessor<ValueEvent>[] processors = new BatchEventProcessor[consumers];
        final Thread[] consumerThreads = new Thread[consumers];
        for (int c = 0; c < consumers; c++)
        {
            handlers[c] = new Summer(events, allTaken);
            processors[c] = new BatchEventProcessorBuilder().build(rb, barrier, handlers[c]);
            rb.addGatingSequences(processors[c].getSequence());
            consumerThreads[c] = new Thread(processors[c], "consumer-" + c);
            consumerThreads[c].setDaemon(true);
            consumerThreads[c].start();
        }
        final long[] made = new long[producers];
        final Thread[] producerThreads = new Thread[producers];
        final CountDownLatch ready = new CountDownLatch(producers);
        final CountDownLatch go = new CountDownLatch(1);
        final long[] deadline = new long[1];
        if (producers > 1)
        {
            for (int p = 0; p < producers; p++)
            {
                final int k = p;
                producerThreads[p] = new Thread(() ->
                {
                    ready.countDown();
                    try
                    {
                        go.await();
                    }
                    catch (final InterruptedException e)
                    {
                        return;
                    }
                    made[k] = produceEvents(rb, perProducer, deadline[0]);
                }, "producer-" + p);
                producerThreads[p].setDaemon(true);
                producerThreads[p].start();
            }
            ready.await();
        }
        // Every thread is at its loop before the clock starts.
        for (final BatchEventProcessor<ValueEvent> p : processors)
        {
            while (!p.isRunning())
            {
                Thread.onSpinWait();
            }
        }

        final long start = System.nanoTime();
        final long capNanos = (long) (capSeconds * 1e9);
        deadline[0] = start + capNanos;
        if (producers > 1)
        {
            go.countDown();   // publishes deadline[0] to the producers (happens-before)
            for (final Thread t : producerThreads)
            {
                t.join();
            }
        }
        else
        {
            made[0] = batch ? produceBatches(rb, perProducer, deadline[0]) : produceEvents(rb, perProducer, deadline[0]);
        }
        for (int p = 0; p < producers; p++)
        {
            r.capped |= made[p] < perProducer;
        }
        long end;
        if (r.capped)
        {
            // The consumers take what was published, then stop.
            final long published = rb.getCursor();
            for (final BatchEventProcessor<ValueEvent> p : processors)
            {
                while (p.getSequence().get() < published && System.nanoTime() - start < 2 * capNanos)
                {
                    Thread.sleep(1);
                }
            }
            end = System.nanoTime();
        }
        else
        {
            allTaken.await(Math.max(capNanos, 1_000_000_000L), TimeUnit.NANOSECONDS);
            end = 0;
        }
        for (final BatchEventProcessor<ValueEvent> p : processors)
        {
            p.halt();
        }
        for (final Thread t : consumerThreads)
        {
            t.join();
        }
        r.done = Long.MAX_VALUE;
        for (final Summer h : handlers)
        {
            r.done = Math.min(r.done, h.count);
            end = Math.max(end, h.endNanos);
        }
        r.seconds = (end - start) * 1e-9;
        if (!r.capped)
        {
            final long want = batch ? BATCH * triangle(perProducer) : producers * triangle(perProducer);
            for (int c = 0; c < consumers; c++)
            {
                if (handlers[c].count != events || handlers[c].sum != want)
                {
                    r.seconds = (System.nanoTime() - start) * 1e-9;
                    return failed(r, String.format(Locale.ROOT,
                        "consumer %d took %d events summing to %d; expected %d summing to %d",
                        c, handlers[c].count, handlers[c].sum, events, want));
                }
            }
        }
        return r;
    }

    static String json(final String shape, final String wait, final String form, final long events, final Result r)
    {
        final double rate = r.seconds > 0 ? r.done / r.seconds : 0;
        return String.format(Locale.ROOT,
            "{\"shape\": %s, \"wait\": %s, \"form\": %s, \"events\": %d, \"done\": %d, \"seconds\": %.6f, "
                + "\"events_per_s\": %.1f, \"ok\": %s, \"capped\": %s, \"threads\": %d, \"cpus\": %d%s}",
            DisruptorPeer.jsonString(shape), DisruptorPeer.jsonString(wait), DisruptorPeer.jsonString(form), events,
            r.done, r.seconds, rate, r.ok, r.capped, r.threads, Runtime.getRuntime().availableProcessors(),
            r.error.isEmpty() ? "" : ", \"error\": " + DisruptorPeer.jsonString(r.error));
    }

    private Shapes()
    {
    }
}
