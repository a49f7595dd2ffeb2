// A powered-off VM or template given by a libvirt domain XML file (backup --domain-xml): the
// image files of its disks, the disks it leaves out (cdrom, shareable) and its identity. The
// images are then read like any image file; the XML is stored with the backup.

import { readFile } from 'node:fs/promises';
import { VmbakError, describeError } from '../../core/index.ts';
import type { ImageSpec } from '../index.ts';
import { parseDomainXml } from './domain-xml.ts';

/** Reads a domain XML file into the image specs of its disks, plus what it skipped. */
export async function imagesFromDomainXml(xmlPath: string): Promise<{ xml: string; name: string; uuid: string | null; images: ImageSpec[]; skipped: { target: string; reason: string }[] }> {
  let xml: string;
  try {
    xml = await readFile(xmlPath, 'utf8');
  } catch (err) {
    throw new VmbakError('DOMAIN_XML_INVALID', { path: xmlPath, detail: describeError(err) });
  }
  let info;
  try {
    info = parseDomainXml(xml);
  } catch (err) {
    throw new VmbakError('DOMAIN_XML_INVALID', { path: xmlPath, detail: describeError(err) });
  }
  if (!info.name) throw new VmbakError('DOMAIN_XML_INVALID', { path: xmlPath, detail: 'the domain has no <name>' });
  const images: ImageSpec[] = [];
  const skipped: { target: string; reason: string }[] = [];
  for (const d of info.disks) {
    if (d.skipReason) skipped.push({ target: d.target, reason: d.skipReason });
    else if (d.unsupportedReason || !d.path) throw new VmbakError('DOMAIN_XML_INVALID', { path: xmlPath, detail: `disk ${d.target}: ${d.unsupportedReason ?? 'no source'}` });
    else images.push({ path: d.path, name: d.target, format: d.format });
  }
  if (images.length === 0) throw new VmbakError('DOMAIN_XML_INVALID', { path: xmlPath, detail: 'it names no disk to back up' });
  return { xml, name: info.name, uuid: info.uuid || null, images, skipped };
}
