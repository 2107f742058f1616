import type { Saved } from './model.js';

// The page's model kept in the browser (IndexedDB), so that a reload or a closed tab loses
// nothing: the weights, the optimizer's state, the loss curve, the settings and the text
// (Saved, as Undo keeps them), and which text the list showed. Written when a training burst
// ends (Train's steps done, or Pause) and when the page is hidden; read once at start-up. A
// browser without IndexedDB (or one that refuses it) only means nothing is kept.

const DB = 'char-rnn-webgpu';
const STORE = 'page';
const KEY = 'model';

export interface Kept {
  saved: Saved;
  /** the text's name (a bundled text's id, 'custom', or a file's name) and the list's choice */
  textName: string;
  choice: string;
  /** when it was kept (ISO 8601) */
  keptAt: string;
}

function database(): Promise<IDBDatabase> {
  return new Promise((done, fail) => {
    const r = indexedDB.open(DB, 1);
    r.onupgradeneeded = () => r.result.createObjectStore(STORE);
    r.onsuccess = () => done(r.result);
    r.onerror = () => fail(r.error);
  });
}

async function request<T>(mode: IDBTransactionMode, act: (s: IDBObjectStore) => IDBRequest): Promise<T> {
  const db = await database();
  try {
    return await new Promise<T>((done, fail) => {
      const t = db.transaction(STORE, mode);
      const r = act(t.objectStore(STORE));
      t.oncomplete = () => done(r.result as T);
      t.onerror = () => fail(t.error);
      t.onabort = () => fail(t.error);
    });
  } finally {
    db.close();
  }
}

/** Keeps the model (replacing the one kept before). */
export function keep(k: Kept): Promise<void> {
  return request<void>('readwrite', (s) => s.put(k, KEY));
}

/** The model kept, if any (undefined also where IndexedDB is unavailable). */
export async function kept(): Promise<Kept | undefined> {
  try {
    return (await request<Kept | undefined>('readonly', (s) => s.get(KEY))) ?? undefined;
  } catch {
    return undefined;
  }
}
