// The few platform globals the engine uses that exist in every host it runs in (browsers, Web
// Workers, Node >= 18) but are not part of the ES lib. Declared minimally so that DOM and Node
// type libraries stay out of the engine.

declare global {
  interface TextEncoder {
    encode(input?: string): Uint8Array;
  }
  var TextEncoder: { new (): TextEncoder };

  interface TextDecoder {
    decode(input?: Uint8Array): string;
  }
  var TextDecoder: { new (label?: string, options?: { fatal?: boolean }): TextDecoder };

  function structuredClone<T>(value: T): T;
}

export {};
