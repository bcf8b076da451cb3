import { v7 as uuidv7 } from 'uuid';

/** Where new ids come from (UUIDv7: time-ordered), injected so that tests can predict them. */
export interface Ids {
  next(): string;
}

export const IDS = Symbol('IDS');

export const UUIDV7_IDS: Ids = { next: () => uuidv7() };
