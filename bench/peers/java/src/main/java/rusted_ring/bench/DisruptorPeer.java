package rusted_ring.bench;

import com.lmax.disruptor.BatchEventProcessor;
import com.lmax.disruptor.BatchEventProcessorBuilder;
import com.lmax.disruptor.BlockingWaitStrategy;
import com.lmax.disruptor.EventHandler;
import com.lmax.disruptor.RingBuffer;
import com.lmax.disruptor.WaitStrategy;
import com.lmax.disruptor.YieldingWaitStrategy;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;

/**
 * The LMAX Disruptor 4.0.0 beside rusted_ring, run by bench/run.py.
 *
 * <p>Throughput: the shapes of the Disruptor's own throughput tests (see
 * {@link Shapes}), one run per request, in the line protocol of
 * bench/c/serve.h, which rusted_ring's bench/c/bench_disruptor.c speaks too;
 * run.py keeps one JVM for a whole group and runs it alternately with the C
 * side, after unmeasured warm-up runs for the JIT compiler.
 *
 * <p>Latency has the shape of its PingPongSequencedLatencyTest without the
 * pause (bench_latency.c section a is rusted_ring's): two RingBuffers of 1024
 * events, a Pinger handler on the pong buffer that times each round trip and
 * sends the next ping, a Ponger handler on the ping buffer that sends each
 * ping back; with its BlockingWaitStrategy (the one that test uses) and with
 * YieldingWaitStrategy, after one unmeasured warm-up pass each.
 *
 * <pre>
 *   java -cp ... rusted_ring.bench.DisruptorPeer --serve
 *   java -cp ... rusted_ring.bench.DisruptorPeer SHAPE WAIT claim EVENTS [CAP_S [REPEATS]]
 *   java -cp ... rusted_ring.bench.DisruptorPeer --latency [--quick] [--json FILE]
 * </pre>
 */
public final class DisruptorPeer
{
    private static final int PING_BUFFER_SIZE = 1024;
    private static final int PING_N = 200_000;
    private static final int PING_N_QUICK = 20_000;
    private static final double[] QUANTILES =
        {0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999, 1.0};
    private static final String HELLO = "{\"ready\": true, \"worker\": \"LMAX Disruptor 4.0.0\", \"cpus\": %d, "
        + "\"java\": %s, \"shapes\": [\"1p1c\", \"1p1c-batch10\", \"1p3c\", \"3p1c\", "
        + "\"1p3c-pipeline\", \"1p3c-diamond\"], "
        + "\"waits\": [\"yield\", \"spin\", \"block\", \"sleep\"], \"forms\": [\"claim\"], "
        + "\"ring_size\": %d, \"value_bytes\": 8}";

    /** The event: one long, like the Disruptor's perftest ValueEvent. */
    static final class ValueEvent
    {
        long value;
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

    static void writeJson(final String path, final boolean quick, final List<Lat> lats) throws IOException
    {
        final StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT,
            "{\n  \"library\": \"com.lmax:disruptor 4.0.0\", \"java\": %s, \"quick\": %s,\n  \"quantiles\": %s,\n"
                + "  \"latency\": [\n",
            jsonString(javaName()), quick, Arrays.toString(QUANTILES)));
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

    static String javaName()
    {
        return System.getProperty("java.vm.name") + " " + System.getProperty("java.version");
    }

    // ---- throughput: the protocol of bench/c/serve.h ---------------------------------------

    /** One run, its JSON line printed; false when a check failed. */
    static boolean runOne(final String shape, final String wait, final String form, final long events,
                          final double cap) throws InterruptedException
    {
        final Shapes.Result r = Shapes.run(shape, wait, form, events, cap);
        System.out.println(Shapes.json(shape, wait, form, events, r));
        System.out.flush();
        if (!r.ok)
        {
            System.err.println(shape + " " + wait + " " + form + ": FAILED: " + r.error);
        }
        return r.ok;
    }

    static int serve() throws IOException, InterruptedException
    {
        System.out.println(String.format(Locale.ROOT, HELLO, Runtime.getRuntime().availableProcessors(),
            jsonString(javaName()), Shapes.RING_SIZE));
        System.out.flush();
        final BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        boolean allOk = true;
        String line;
        while ((line = in.readLine()) != null)
        {
            final String[] w = line.trim().split("\\s+");
            if (w[0].equals("quit"))
            {
                break;
            }
            boolean ok = w.length == 6 && w[0].equals("run");
            if (ok)
            {
                try
                {
                    ok = runOne(w[1], w[2], w[3], Long.parseLong(w[4]), Double.parseDouble(w[5]));
                }
                catch (final NumberFormatException e)
                {
                    ok = false;
                    System.out.println("{\"ok\": false, \"error\": \"bad request line\"}");
                }
            }
            else
            {
                System.out.println("{\"ok\": false, \"error\": \"bad request line\"}");
            }
            System.out.flush();
            allOk &= ok;
        }
        return allOk ? 0 : 1;
    }

    // ---- latency -------------------------------------------------------------------------------

    static int latency(final boolean quick, final String json) throws Exception
    {
        System.out.printf(Locale.ROOT, "LMAX Disruptor 4.0.0 on %s, %d processors%n", javaName(),
            Runtime.getRuntime().availableProcessors());
        boolean failed = false;
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
            writeJson(json, quick, lats);
        }
        return failed ? 1 : 0;
    }

    private static void usage()
    {
        System.err.println("usage: DisruptorPeer --serve\n"
            + "       DisruptorPeer SHAPE WAIT claim EVENTS [CAP_S [REPEATS]]\n"
            + "       DisruptorPeer --latency [--quick] [--json FILE]\n"
            + "SHAPE: 1p1c, 1p1c-batch10, 1p3c, 3p1c; WAIT: yield, spin, block, sleep");
        System.exit(2);
    }

    public static void main(final String[] args) throws Exception
    {
        if (args.length == 1 && args[0].equals("--serve"))
        {
            System.exit(serve());
        }
        if (args.length > 0 && args[0].equals("--latency"))
        {
            boolean quick = false;
            String json = null;
            for (int i = 1; i < args.length; i++)
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
                    usage();
                }
            }
            System.exit(latency(quick, json));
        }
        if (args.length < 4 || args.length > 6)
        {
            usage();
        }
        try
        {
            final long events = Long.parseLong(args[3]);
            final double cap = args.length > 4 ? Double.parseDouble(args[4]) : 60.0;
            final int repeats = args.length > 5 ? Integer.parseInt(args[5]) : 1;
            boolean ok = true;
            for (int i = 0; i < repeats; i++)
            {
                ok &= runOne(args[0], args[1], args[2], events, cap);
            }
            System.exit(ok ? 0 : 1);
        }
        catch (final NumberFormatException e)
        {
            usage();
        }
    }
}
