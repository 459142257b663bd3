/**
 * Classes generated from {@code src/main/proto/kiln/v1/*.proto} by the Quarkus gRPC code generator:
 * protobuf messages, grpc-java stubs ({@code EncoderGrpc}, ...) for plain Java callers, and the Mutiny
 * flavour ({@code Encoder}, {@code EncoderClient}, {@code MutinyEncoderGrpc}) that Quarkus services
 * implement and inject. Only this file is written by hand; edit the .proto files, not the output.
 */
package dev.kiln.protocol.v1;
