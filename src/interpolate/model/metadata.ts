// The learned model's ONNX metadata (the shipped one: model/shipped.ts; built by training/), read
// without a protobuf library. Inference itself is src/interpolate/engine (ModelSession); the
// model's inputs are intensity-normalised as metadata.normalisation says.
export interface ModelMetadata {
  name?: string;
  version?: string;
  architecture?: string;
  parameters?: string;
  stages?: string;
  normalisation?: string;
  normalisation_percentile?: string;
  inputs?: string;
  outputs?: string;
  output_kind?: string;
  opset?: string;
  [key: string]: string | undefined;
}

/** Reads ModelProto.metadata_props (field 14) from an ONNX protobuf without a protobuf library. */
export function readOnnxMetadata(buf: Uint8Array): Record<string, string> {
  let p = 0;
  const varint = (): number => {
    let r = 0;
    let mul = 1;
    for (;;) {
      const b = buf[p++];
      r += (b & 0x7f) * mul;
      if (b < 0x80) return r;
      mul *= 128;
    }
  };
  const dec = new TextDecoder();
  const out: Record<string, string> = {};
  while (p < buf.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) varint();
    else if (wire === 1) p += 8;
    else if (wire === 5) p += 4;
    else if (wire === 2) {
      const len = varint();
      const end = p + len;
      if (field === 14) {
        let key = '';
        let value = '';
        while (p < end) {
          const t2 = varint();
          const l2 = varint();
          const s = dec.decode(buf.subarray(p, p + l2));
          p += l2;
          if (t2 >> 3 === 1) key = s;
          else if (t2 >> 3 === 2) value = s;
        }
        out[key] = value;
      }
      p = end;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}
