// Looking for patient data in log text: a value counts only as a whole token, so a PatientID such
// as "999" is not "found" inside a random UID (2.25.1239994...) or a longer number.

/** A value found as a whole token (not inside a UID or a longer word or number). */
export function containsToken(text: string, value: string): boolean {
  const esc = value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^A-Za-z0-9.])${esc}($|[^A-Za-z0-9.])`, 'i').test(text);
}
