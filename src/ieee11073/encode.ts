/**
 * Encodes APDUs with MDER, the exact inverse of `decodeApdu`: for every
 * well-formed APDU, `encodeApdu(decodeApdu(bytes).apdu)` equals `bytes`.
 */
import type { Apdu } from './apdu.js';
import { writeAare, writeAarq } from './association.js';
import { writeDataMessage } from './data-apdu.js';
import { ApduTag } from './decode.js';
import { MderWriter } from './mder.js';

/**
 * Returns the MDER bytes of an APDU. Throws a MedwardError with code
 * MDER_ENCODE_INVALID when a value does not fit its MDER type or a typed value
 * does not match its attribute id, event type or action type.
 */
export function encodeApdu(apdu: Apdu): Uint8Array {
  const writer = new MderWriter();
  writer.u16(ApduTag[apdu.kind], 'apdu');
  const at = writer.beginLength();
  writeApduBody(writer, apdu);
  writer.endLength(at, 'apdu');
  return writer.finish();
}

function writeApduBody(writer: MderWriter, apdu: Apdu): void {
  switch (apdu.kind) {
    case 'aarq':
      writeAarq(writer, apdu);
      return;
    case 'aare':
      writeAare(writer, apdu);
      return;
    case 'rlrq':
    case 'rlre':
    case 'abrt':
      writer.u16(apdu.reason, 'reason');
      return;
    case 'prst': {
      const at = writer.beginLength();
      writer.u16(apdu.data.invokeId, 'invoke-id');
      writeDataMessage(writer, apdu.data.message);
      writer.endLength(at, 'prst');
      return;
    }
  }
}
