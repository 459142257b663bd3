package dev.kiln.protocol.server;

/**
 * What a stage endpoint tells its service about each call, for the stage metrics of DESIGN.md: a call is
 * counted in when it arrives (queue depth) and out with its outcome (request timer, rejections).
 */
public interface StageMonitor {
    /** A call has arrived; it is waiting or in flight until {@link Call#end} is called. */
    Call start();

    /** One call held by the stage. */
    interface Call {
        /**
         * The call is over; later calls do nothing.
         *
         * @param outcome {@code ok}, or the gRPC status code in lower case ({@code resource_exhausted}, ...)
         */
        void end(String outcome);
    }

    /** Counts nothing, for tests and benchmarks that do not look at metrics. */
    StageMonitor NONE = () -> outcome -> { };
}
