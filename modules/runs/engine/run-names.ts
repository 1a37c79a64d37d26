import { randomInt } from 'node:crypto';

const ADJECTIVES = [
  'amber', 'bold', 'brisk', 'calm', 'clever', 'cosmic', 'crimson', 'daring', 'eager', 'fancy', 'gentle', 'golden',
  'happy', 'hidden', 'humble', 'jolly', 'keen', 'lively', 'lucky', 'mellow', 'nimble', 'noble', 'polite', 'proud',
  'quiet', 'rapid', 'royal', 'shiny', 'silent', 'steady', 'swift', 'tidy', 'vivid', 'witty', 'zesty', 'zealous',
];
const ANIMALS = [
  'badger', 'beaver', 'bison', 'cheetah', 'crane', 'dolphin', 'eagle', 'falcon', 'ferret', 'gecko', 'heron', 'ibis',
  'jaguar', 'koala', 'lemur', 'lynx', 'marmot', 'newt', 'otter', 'owl', 'panda', 'puffin', 'quail', 'raven', 'salmon',
  'seal', 'stork', 'tapir', 'toucan', 'walrus', 'wombat', 'yak', 'zebra',
];

/** Human-friendly run names in the Prefect style (`swift-otter`); uniqueness comes from the run id. */
export function generateRunName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}-${ANIMALS[randomInt(ANIMALS.length)]}`;
}
