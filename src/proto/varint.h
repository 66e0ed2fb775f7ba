/* proto/varint.h — the SignalR / Azure SignalR service-protocol length prefix.
 *
 * A VarInt is 1..5 bytes, 7 bits per byte, least significant group first, MSB set on every
 * byte but the last. The largest length is 2^31 - 1 (the 5th byte may carry at most 3 bits),
 * exactly like ASP.NET Core's BinaryMessageParser ("Messages over 2GB are not supported").
 * Non-minimal encodings (e.g. 80 00) are accepted when decoding, never produced.
 * Used by the MessagePack hub protocol (reference §1.7) and the service protocol (§2.2).
 *
 * Pure functions, no allocation, thread-safe. */
#ifndef SG_PROTO_VARINT_H
#define SG_PROTO_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define SG_VARINT_MAX_BYTES 5
#define SG_VARINT_MAX_VALUE 0x7fffffffu

/* Writes the VarInt for v (must be <= SG_VARINT_MAX_VALUE; larger values are clamped to an
 * error return of 0) into out[0..5) and returns the number of bytes written (1..5). */
size_t sg_varint_encode(uint32_t v, uint8_t out[SG_VARINT_MAX_BYTES]);

/* Number of bytes sg_varint_encode would write for v (0 if v is too large). */
size_t sg_varint_size(uint32_t v);

/* Decodes a VarInt at the start of p[0..n).
 * Returns SG_OK and sets *value and *consumed (1..5);
 *         SG_EAGAIN if p ends inside the prefix (n may be 0) — read more and retry;
 *         SG_EPROTO if the prefix is longer than 5 bytes or the value exceeds 2^31 - 1.
 * value/consumed are untouched on failure. */
int sg_varint_decode(const void *p, size_t n, uint32_t *value, size_t *consumed);

/* Frames: decodes the prefix and checks that the whole body is present.
 * Returns SG_OK with *body and *body_len pointing INTO p (borrowed) and *frame_len = prefix +
 * body; SG_EAGAIN when more bytes are needed; SG_ETOOBIG when the announced length exceeds
 * max_body (0 = no cap besides 2 GB) — the caller should fail the connection without waiting
 * for the body; SG_EPROTO for a bad prefix. */
int sg_varint_frame(const void *p, size_t n, size_t max_body, const uint8_t **body,
                    size_t *body_len, size_t *frame_len);

#endif
