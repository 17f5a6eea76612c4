// Which refiner a stack gets when several are configured (src/interpolate/refine/choose.ts), and
// the training factors read from a refiner's metadata.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseRefiner, trainingFactors } from '../../src/interpolate/refine/choose.js';

type Named = { name: string; factors?: number[] };
const short: Named = { name: 'short', factors: [2, 3, 4] };
const general: Named = { name: 'general', factors: [2, 3, 4, 5, 6] };
const any: Named = { name: 'any' };

describe('chooseRefiner', () => {
  it('the first listed refiner trained on the factor', () => {
    assert.equal(chooseRefiner([short, general], 2)?.name, 'short');
    assert.equal(chooseRefiner([short, general], 4)?.name, 'short');
    assert.equal(chooseRefiner([short, general], 5)?.name, 'general');
    // the order of the list decides where both were trained
    assert.equal(chooseRefiner([general, short], 3)?.name, 'general');
  });
  it('outside every range: the one trained nearest the factor, the first on a tie', () => {
    // 8 steps per gap (7.5 mm made 0.94 mm): 6 is nearer than 4
    assert.equal(chooseRefiner([short, general], 8)?.name, 'general');
    // 1: both were trained on 2
    assert.equal(chooseRefiner([short, general], 1)?.name, 'short');
    assert.equal(chooseRefiner<Named>([{ name: 'a', factors: [2] }, { name: 'b', factors: [6] }], 4)?.name, 'a');
  });
  it('a refiner without recorded factors fits every factor; an empty list gives none', () => {
    assert.equal(chooseRefiner([any, short], 3)?.name, 'any');
    assert.equal(chooseRefiner([short, any], 3)?.name, 'short');
    assert.equal(chooseRefiner([short, any], 7)?.name, 'any');
    assert.equal(chooseRefiner<Named>([], 3), undefined);
  });
});

describe('trainingFactors', () => {
  it('reads training.ks; anything else is "not recorded"', () => {
    assert.deepEqual(trainingFactors('{"steps": 3000, "ks": [2, 3, 4]}'), [2, 3, 4]);
    assert.equal(trainingFactors(undefined), undefined);
    assert.equal(trainingFactors('{}'), undefined);
    assert.equal(trainingFactors('{"ks": []}'), undefined);
    assert.equal(trainingFactors('{"ks": [0, 2]}'), undefined);
    assert.equal(trainingFactors('{"ks": "2,4"}'), undefined);
    assert.equal(trainingFactors('not json'), undefined);
  });
});
