package rusted_ring.bench;

import com.lmax.disruptor.BatchEventProcessor;
import com.lmax.disruptor.BatchEventProcessorBuilder;
import com.lmax.disruptor.BlockingWaitStrategy;
import com.lmax.disruptor.EventHandler;
import com.lmax.disruptor.RingBuffer;
import com.lmax.disruptor.WaitStrategy;
import com.lmax.disruptor.YieldingWaitStrategy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;

/**
 * The LMAX Disruptor 4.0.0 on the workloads of bench_core.c section f and
 * bench_latency.c section a, run by bench/run.py in the same benchmark run as
 * the C core.
 *
 * <p>Throughput has the shape of the Disruptor's own
 * OneToOneSequencedThroughputTest: a single-producer RingBuffer of 65536
 * events holding one {@code long}, YieldingWaitStrategy, one
 * BatchEventProcessor whose handler adds the values up; the producer does
 * next() / set the value / publish() for each event; the run ends when the
 * handler has seen every event, and the sum is checked.
 *
 * <p>Latency has the shape of its PingPongSequencedLatencyTest without the
 * pause: two RingBuffers of 1024 events, a Pinger handler on the pong buffer
 * that times each round trip and sends the next ping, a Ponger handler on the
 * ping buffer that sends each ping back; with its BlockingWaitStrategy (the
 * one that test uses) and with YieldingWaitStrategy.
 *
 * <p>The JVM's JIT compiler is warmed up with unmeasured passes first. Each
 * throughput figure is the best of REPEATS passes of an event count
 * calibrated to take about TARGET_S seconds.
 *
 * <pre>  java -cp ... rusted_ring.bench.DisruptorPeer [--quick] [--json FILE]</pre>
 */
public final class DisruptorPeer
{
    private static final int BUFFER_SIZE = 1024 * 64;
    private static final int PING_BUFFER_SIZE = 1024;
    private static final int REPEATS = 3;
    private static final double TARGET_S = 0.4;
    private static final double TARGET_QUICK = 0.06;
    private static final int PING_N = 200_000;
    private static final int PING_N_QUICK = 20_000;
    private static final double[] QUANTILES =
        {0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999, 1.0};

    /** The event: one long, like the Disruptor's perftest ValueEvent. */
    static final class ValueEvent
    {
        long value;
    }

    // ---- throughput ---------------------------------------------------------------------

    static final class Adder implements EventHandler<ValueEvent>
    {
        private final long expected;
        private final CountDownLatch latch;
        long sum;
        long count;

        Adder(final long expected, final CountDownLatch latch)
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
                latch.countDown();
            }
        }
    }

    /** One pass of n events; returns the seconds it took, or -1 when the sum is wrong. */
    static double throughputPass(final long n) throws InterruptedException
    {
        final RingBuffer<ValueEvent> rb =
            RingBuffer.createSingleProducer(ValueEvent::new, BUFFER_SIZE, new YieldingWaitStrategy());
        final CountDownLatch latch = new CountDownLatch(1);
        final Adder handler = new Adder(n, latch);
        final BatchEventProcessor<ValueEvent> processor =
            new BatchEventProcessorBuilder().build(rb, rb.newBarrier(), handler);
        rb.addGatingSequences(processor.getSequence());
        final Thread consumer = new Thread(processor, "disruptor-consumer");
        consumer.setDaemon(true);
        consumer.start();

        final long start = System.nanoTime();
        for (long i = 0; i < n; i++)
        {
            final long next = rb.next();
            rb.get(next).value = i;
            rb.publish(next);
        }
        latch.await();
        final long end = System.nanoTime();
        processor.halt();
        consumer.join();
        final boolean ok = handler.count == n && handler.sum == n * (n - 1) / 2;
        return ok ? (end - start) * 1e-9 : -1;
    }

    // ---- ping-pong latency ----------------------------------------------------------------

    static final class Pinger implements EventHandler<ValueEvent>
    {
        private final RingBuffer<ValueEvent> ping;
        private final long[] samples;
        private final CountDownLatch done;
        private long t0;
        private long counter;
        long bad;

        Pinger(final RingBuffer<ValueEvent> ping, final long[] samples, final CountDownLatch done)
        {
            this.ping = ping;
            this.samples = samples;
            this.done = done;
        }

        void send()
        {
            t0 = System.nanoTime();
            final long next = ping.next();
            ping.get(next).value = counter;
            ping.publish(next);
        }

        @Override
        public void onEvent(final ValueEvent event, final long sequence, final boolean endOfBatch)
        {
            final long t1 = System.nanoTime();
            if (event.value != counter)
            {
                bad++;
            }
            samples[(int) counter] = t1 - t0;
            if (++counter < samples.length)
            {
                send();
            }
            else
            {
                done.countDown();
            }
        }
    }

    static final class Ponger implements EventHandler<ValueEvent>
    {
        private final RingBuffer<ValueEvent> pong;

        Ponger(final RingBuffer<ValueEvent> pong)
        {
            this.pong = pong;
        }

        @Override
        public void onEvent(final ValueEvent event, final long sequence, final boolean endOfBatch)
        {
            final long next = pong.next();
            pong.get(next).value = event.value;
            pong.publish(next);
        }
    }

    interface Strategy
    {
        WaitStrategy make();
    }

    /** n timed round trips; null when a value came back wrong. */
    static long[] pingPong(final int n, final Strategy strategy) throws InterruptedException
    {
        final RingBuffer<ValueEvent> ping =
            RingBuffer.createSingleProducer(ValueEvent::new, PING_BUFFER_SIZE, strategy.make());
        final RingBuffer<ValueEvent> pong =
            RingBuffer.createSingleProducer(ValueEvent::new, PING_BUFFER_SIZE, strategy.make());
        final long[] samples = new long[n];
        final CountDownLatch done = new CountDownLatch(1);
        final Pinger pinger = new Pinger(ping, samples, done);
        final BatchEventProcessor<ValueEvent> pingProcessor =
            new BatchEventProcessorBuilder().build(pong, pong.newBarrier(), pinger);
        final BatchEventProcessor<ValueEvent> pongProcessor =
            new BatchEventProcessorBuilder().build(ping, ping.newBarrier(), new Ponger(pong));
        ping.addGatingSequences(pongProcessor.getSequence());
        pong.addGatingSequences(pingProcessor.getSequence());
        final Thread a = new Thread(pingProcessor, "pinger");
        final Thread b = new Thread(pongProcessor, "ponger");
        a.setDaemon(true);
        b.setDaemon(true);
        a.start();
        b.start();
        while (!pingProcessor.isRunning() || !pongProcessor.isRunning())
        {
            Thread.sleep(1);
        }
        pinger.send();
        done.await();
        pingProcessor.halt();
        pongProcessor.halt();
        a.join();
        b.join();
        return pinger.bad == 0 ? samples : null;
    }

    // ---- reporting --------------------------------------------------------------------------

    static final class Row
    {
        String name;
        long events;
        double seconds;
        boolean ok;
    }

    static final class Lat
    {
        String name;
        int samples;
        double mean;
        long[] q = new long[QUANTILES.length];
    }

    static Lat summarize(final String name, final long[] s)
    {
        final Lat l = new Lat();
        l.name = name;
        l.samples = s.length;
        Arrays.sort(s);
        double sum = 0;
        for (final long v : s)
        {
            sum += v;
        }
        l.mean = sum / s.length;
        for (int k = 0; k < QUANTILES.length; k++)
        {
            l.q[k] = s[(int) (QUANTILES[k] * (s.length - 1) + 0.5)];
        }
        return l;
    }

    static long q(final Lat l, final double quantile)
    {
        for (int k = 0; k < QUANTILES.length; k++)
        {
            if (QUANTILES[k] == quantile)
            {
                return l.q[k];
            }
        }
        return 0;
    }

    static String jsonString(final String s)
    {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    static void writeJson(final String path, final boolean quick, final List<Row> rows, final List<Lat> lats)
        throws IOException
    {
        final StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT,
            "{\n  \"library\": \"com.lmax:disruptor 4.0.0\", \"java\": %s, \"quick\": %s, \"repeats\": %d, "
                + "\"buffer_size\": %d,\n  \"results\": [\n",
            jsonString(System.getProperty("java.vm.name") + " " + System.getProperty("java.version")),
            quick, REPEATS, BUFFER_SIZE));
        for (int i = 0; i < rows.size(); i++)
        {
            final Row r = rows.get(i);
            b.append(String.format(Locale.ROOT,
                "    {\"section\": \"disruptor\", \"name\": %s, \"payload\": 8, \"events\": %d, \"seconds\": %.6f, "
                    + "\"events_per_s\": %.1f, \"ns_per_event\": %.3f, \"ok\": %s}%s\n",
                jsonString(r.name), r.events, r.seconds, r.events / r.seconds, r.seconds * 1e9 / r.events, r.ok,
                i + 1 < rows.size() ? "," : ""));
        }
        b.append("  ],\n  \"quantiles\": ").append(Arrays.toString(QUANTILES)).append(",\n  \"latency\": [\n");
        for (int i = 0; i < lats.size(); i++)
        {
            final Lat l = lats.get(i);
            b.append(String.format(Locale.ROOT,
                "    {\"name\": %s, \"kind\": \"rtt\", \"payload\": 8, \"samples\": %d, \"mean_ns\": %.1f, "
                    + "\"p50_ns\": %d, \"p99_ns\": %d, \"p999_ns\": %d, \"max_ns\": %d, \"quantiles_ns\": %s}%s\n",
                jsonString(l.name), l.samples, l.mean, q(l, 0.5), q(l, 0.99), q(l, 0.999), q(l, 1.0),
                Arrays.toString(l.q), i + 1 < lats.size() ? "," : ""));
        }
        b.append("  ]\n}\n");
        Files.write(Paths.get(path), b.toString().getBytes(StandardCharsets.UTF_8));
        System.out.println("\nwrote " + path);
    }

    public static void main(final String[] args) throws Exception
    {
        boolean quick = false;
        String json = null;
        for (int i = 0; i < args.length; i++)
        {
            if (args[i].equals("--quick"))
            {
                quick = true;
            }
            else if (args[i].equals("--json") && i + 1 < args.length)
            {
                json = args[++i];
            }
            else
            {
                System.err.println("usage: DisruptorPeer [--quick] [--json FILE]");
                System.exit(2);
            }
        }
        final double target = quick ? TARGET_QUICK : TARGET_S;
        System.out.printf(Locale.ROOT, "LMAX Disruptor 4.0.0 on %s %s, %d processors%n",
            System.getProperty("java.vm.name"), System.getProperty("java.version"),
            Runtime.getRuntime().availableProcessors());
        boolean failed = false;

        // JIT warm-up, then calibrate on the last warm-up pass.
        long n = quick ? 2_000_000L : 10_000_000L;
        double s = 0;
        for (int i = 0; i < (quick ? 2 : 3); i++)
        {
            s = throughputPass(n);
            if (s < 0)
            {
                System.out.println("warm-up pass: the sum of the values is wrong");
                System.exit(1);
            }
        }
        final long events = Math.max(1_000_000L, (long) (n * target / s));
        final Row row = new Row();
        row.name = "OneToOne 1P1C, long value, YieldingWaitStrategy";
        row.events = events;
        row.seconds = Double.MAX_VALUE;
        row.ok = true;
        for (int i = 0; i < REPEATS; i++)
        {
            final double t = throughputPass(events);
            if (t < 0)
            {
                row.ok = false;
                failed = true;
            }
            else
            {
                row.seconds = Math.min(row.seconds, t);
            }
        }
        System.out.printf(Locale.ROOT, "%n  %-52s %13s %9s  check%n", "throughput", "events/s", "ns/event");
        System.out.printf(Locale.ROOT, "  %-52s %13.0f %9.2f  %s%n", row.name, events / row.seconds,
            row.seconds * 1e9 / events, row.ok ? "ok" : "SUM WRONG");

        final int pings = quick ? PING_N_QUICK : PING_N;
        final List<Lat> lats = new ArrayList<>();
        final String[] names = {"ping-pong round trip, BlockingWaitStrategy", "ping-pong round trip, YieldingWaitStrategy"};
        final Strategy[] strategies = {BlockingWaitStrategy::new, YieldingWaitStrategy::new};
        System.out.printf(Locale.ROOT, "%n  %-52s %9s %9s %9s %9s %9s %10s%n", "latency, ns", "samples", "mean",
            "p50", "p99", "p99.9", "max");
        for (int k = 0; k < names.length; k++)
        {
            pingPong(pings, strategies[k]);   // warm-up
            final long[] samples = pingPong(pings, strategies[k]);
            if (samples == null)
            {
                System.out.println("  " + names[k] + ": a value came back wrong");
                failed = true;
                continue;
            }
            final Lat l = summarize(names[k], samples);
            lats.add(l);
            System.out.printf(Locale.ROOT, "  %-52s %9d %9.0f %9d %9d %9d %10d%n", l.name, l.samples, l.mean,
                q(l, 0.5), q(l, 0.99), q(l, 0.999), q(l, 1.0));
        }
        if (json != null)
        {
            writeJson(json, quick, List.of(row), lats);
        }
        System.exit(failed ? 1 : 0);
    }
}
