/**
 * Cuts APDUs out of a byte stream. Every 20601 APDU starts with a 4-byte
 * header (CHOICE tag, 16-bit length), so a stream transport needs no framing
 * of its own: the length field says where the APDU ends. Several APDUs in one
 * segment and one APDU across several segments both work.
 */
import { APDU_HEADER_BYTES } from '../decode.js';

export interface FramerSink {
  apdu(bytes: Uint8Array): void;
  /**
   * The next APDU announces more than `maxApduBytes` bytes. `header` holds its
   * 4 header bytes; the framer delivers nothing after this call.
   */
  oversize(header: Uint8Array, announcedBytes: number): void;
}

/**
 * Reassembles APDUs from segments. Memory stays bounded by `maxApduBytes`:
 * an APDU announcing more is reported before any of its body is buffered.
 */
export class ApduFramer {
  private pending: Uint8Array | undefined = undefined;
  private failed = false;

  constructor(
    private readonly maxApduBytes: number,
    private readonly sink: FramerSink,
  ) {}

  /** Bytes of an incomplete APDU held until its next segment arrives. */
  get bufferedBytes(): number {
    return this.pending?.byteLength ?? 0;
  }

  push(segment: Uint8Array): void {
    if (this.failed || segment.byteLength === 0) {
      return;
    }
    let data = segment;
    if (this.pending !== undefined) {
      data = concat(this.pending, segment);
      this.pending = undefined;
    }
    let offset = 0;
    while (data.byteLength - offset >= APDU_HEADER_BYTES) {
      // The header is a 16-bit CHOICE tag and the 16-bit length of the rest.
      const size = APDU_HEADER_BYTES + (((data[offset + 2] ?? 0) << 8) | (data[offset + 3] ?? 0));
      if (size > this.maxApduBytes) {
        this.failed = true;
        this.sink.oversize(copyOf(data, offset, offset + APDU_HEADER_BYTES), size);
        return;
      }
      if (data.byteLength - offset < size) {
        break;
      }
      // A copy, so a decoded APDU, which keeps views into its bytes, does not
      // hold on to the whole segment.
      this.sink.apdu(copyOf(data, offset, offset + size));
      offset += size;
      if (this.isStopped()) {
        return;
      }
    }
    if (offset < data.byteLength) {
      this.pending = copyOf(data, offset, data.byteLength);
    }
  }

  /** Read through a method: a sink callback may stop the framer in the middle of `push`. */
  private isStopped(): boolean {
    return this.failed;
  }

  /** Stops delivery, for a transport that is closing. */
  stop(): void {
    this.failed = true;
    this.pending = undefined;
  }
}

/** Copies a range; `Buffer#slice` would return a view, so the constructor copies instead. */
function copyOf(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(bytes.subarray(start, end));
}

function concat(first: Uint8Array, second: Uint8Array): Uint8Array {
  const joined = new Uint8Array(first.byteLength + second.byteLength);
  joined.set(first, 0);
  joined.set(second, first.byteLength);
  return joined;
}
