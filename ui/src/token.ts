// The API token a person pasted, kept for this browser tab only (session storage).
const KEY = "modelgraph.token";

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  if (token) {
    sessionStorage.setItem(KEY, token.trim());
  } else {
    sessionStorage.removeItem(KEY);
  }
}

export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}
