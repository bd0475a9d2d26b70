/** The admin token lives in sessionStorage: it is gone when the tab closes, and never sits in a URL. */
const KEY = 'kd-admin-token';

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(KEY);
}
