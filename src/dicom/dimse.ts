// The one import of dcmjs-dimse (a CommonJS bundle: ESM code must take its default export).
// Its own loglevel logger prints every PDU to the console; our winston logs say what
// matters, so it is silenced here, once, for the whole process.
// (Shared by receive and send.)
import { createRequire } from 'node:module';
import dimse from 'dcmjs-dimse';

dimse.log.setLevel('silent');
// dcmjs-dimse bundles its own dcmjs (0.50.x, not the project's), which warns on the console
// for every private tag it cannot name; silence that copy too.
try {
  const require = createRequire(import.meta.url);
  const nested = createRequire(require.resolve('dcmjs-dimse'))('dcmjs') as { log?: { setLevel?: (l: string) => void } };
  nested.log?.setLevel?.('silent');
} catch {
  /* a layout without the nested copy: nothing to silence */
}

export default dimse;
export type Association = InstanceType<typeof dimse.association.Association>;
export type PresentationContext = InstanceType<typeof dimse.association.PresentationContext>;
export type CStoreRequest = InstanceType<typeof dimse.requests.CStoreRequest>;
export type CEchoRequest = InstanceType<typeof dimse.requests.CEchoRequest>;
