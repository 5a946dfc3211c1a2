import { marshall, marshallDocument, unmarshallDocument } from '../../lib/clients/dynamo';

describe('DynamoDB attribute values', () => {
  it('round-trips the JSON types, nested', () => {
    const document = { s: 'text', n: 12.5, zero: 0, negative: -3, t: true, f: false, nil: null, list: [1, 'two', [3]], map: { inner: { deep: 'x' } }, empty: {} };
    const wire = marshallDocument(document);
    expect(wire.n).toEqual({ N: '12.5' });
    expect(wire.list).toEqual({ L: [{ N: '1' }, { S: 'two' }, { L: [{ N: '3' }] }] });
    expect(wire.nil).toEqual({ NULL: true });
    expect(unmarshallDocument(wire)).toEqual(document);
  });

  it('stores bytes as a binary attribute', () => {
    const wire = marshallDocument({ bytes: Buffer.from([0, 1, 255]) });
    expect(wire.bytes).toEqual({ B: 'AAH/' });
    expect(unmarshallDocument(wire)).toEqual({ bytes: Buffer.from([0, 1, 255]) });
  });

  it('leaves out undefined fields, as the SDK does with removeUndefinedValues', () => {
    expect(marshallDocument({ kept: 'yes', dropped: undefined })).toEqual({ kept: { S: 'yes' } });
  });

  it('refuses what DynamoDB cannot store instead of writing something else', () => {
    expect(() => marshall(Number.NaN)).toThrow(TypeError);
    expect(() => marshall(Infinity)).toThrow(TypeError);
    expect(() => marshall(() => 1)).toThrow(TypeError);
    expect(() => marshall(10n)).toThrow(TypeError);
  });

  it('refuses attribute types this project never writes', () => {
    expect(() => unmarshallDocument({ set: { SS: ['a'] } as never })).toThrow(/unsupported attribute type SS/);
  });
});
