// Reference descriptors from face-api's own FaceRecognitionNet (dist/face-api.node-wasm.js,
// which uses @tensorflow/tfjs 4.22.0 from node_modules; no tfjs-node, no native code).
// usage: node ref_tfjs.js NODE_PROJECT_DIR INPUTS_PREFIX OUT.json
//   NODE_PROJECT_DIR has node_modules/@vladmandic/face-api@1.7.15 + @tensorflow/tfjs@4.22.0
//   (+ @tensorflow/tfjs-backend-wasm@4.22.0, which face-api.node-wasm.js requires; we use the
//   pure-JS 'cpu' backend). Weights are read from face-api's model/ folder
//   with tf.io.decodeWeights (the same decoder face-api's loaders use) and loadFromWeightMap.
const fs = require('fs');
const path = require('path');

async function main() {
  const [projDir, inPrefix, outPath] = process.argv.slice(2);
  const backend = 'cpu';
  const faDir = path.join(projDir, 'node_modules/@vladmandic/face-api');
  const faceapi = require(path.join(faDir, 'dist/face-api.node-wasm.js'));
  const { tf } = faceapi;
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} failed`);
  await tf.ready();

  const manifest = JSON.parse(fs.readFileSync(path.join(faDir, 'model/face_recognition_model-weights_manifest.json')));
  const specs = manifest.flatMap((g) => g.weights);
  const all = Buffer.concat(manifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(faDir, 'model', p)))));
  const weightMap = tf.io.decodeWeights(all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength), specs);
  faceapi.nets.faceRecognitionNet.loadFromWeightMap(weightMap);

  const meta = JSON.parse(fs.readFileSync(`${inPrefix}.json`));
  const raw = fs.readFileSync(`${inPrefix}.bin`);
  const data = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const [n, h, w, c] = meta.shape;
  const out = { faceapi: faceapi.version, tfjs: tf.version_core, backend: tf.getBackend(), descriptors: {} };
  for (let i = 0; i < n; i++) {
    const img = tf.tensor3d(data.subarray(i * h * w * c, (i + 1) * h * w * c), [h, w, c], 'float32');
    const d = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(img);
    out.descriptors[meta.names[i]] = Array.from(d);
    img.dispose();
  }
  fs.writeFileSync(outPath, JSON.stringify(out));
  console.log(`face-api ${out.faceapi}, tfjs-core ${out.tfjs}, backend ${out.backend}: ${n} descriptors -> ${outPath}`);
}
main().catch((e) => { console.error(e); process.exit(1); });
