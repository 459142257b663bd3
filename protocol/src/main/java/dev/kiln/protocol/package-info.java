/**
 * What the stages share on the wire besides the generated messages: the {@link dev.kiln.protocol.TensorCodec}
 * that turns Java arrays into {@code kiln.v1.Tensor} and back, and the message size limit the services
 * configure. Plain Java, usable from Quarkus services and from the CLI and benchmarks alike.
 */
package dev.kiln.protocol;
