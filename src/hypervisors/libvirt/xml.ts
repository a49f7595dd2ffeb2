// A shared fast-xml-parser setup for libvirt's XML: attributes kept under "@_" names, and the
// elements that may repeat always parsed as arrays so callers need not guess.

import { XMLParser } from 'fast-xml-parser';

const ALWAYS_ARRAY = new Set([
  'domain.devices.disk', 'domain.devices.interface', 'domain.devices.tpm',
  'domaincheckpoint.disks.disk', 'domainbackup.disks.disk', 'domaincheckpoint.domain.devices.disk',
]);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: true,
  isArray: (_name, jpath) => ALWAYS_ARRAY.has(String(jpath)),
});

// fast-xml-parser returns loosely typed trees; this alias marks where we step through them.
export type XmlNode = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function parseXml(text: string): XmlNode {
  return parser.parse(text) as XmlNode;
}

/** Text content of an element that may carry attributes (parsed as { '#text': … }). */
export function textOf(node: unknown): string | null {
  if (node === undefined || node === null) return null;
  if (typeof node === 'string' || typeof node === 'number') return String(node);
  const text = (node as XmlNode)['#text'];
  return text === undefined ? null : String(text);
}

export function asArray(node: unknown): XmlNode[] {
  if (node === undefined || node === null || node === '') return [];
  return (Array.isArray(node) ? node : [node]) as XmlNode[];
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/'/g, '&apos;').replace(/"/g, '&quot;');
}
