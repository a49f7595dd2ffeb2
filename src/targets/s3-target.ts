// A repository in an S3-compatible bucket (AWS, Ceph radosgw, MinIO...). Every write is a
// single PutObject, which S3 makes visible all at once, or, above the multipart threshold, a
// multipart upload that becomes visible only at CompleteMultipartUpload (and is aborted on
// failure so no parts linger). Create-if-absent is PutObject with If-None-Match: * (412
// when the name is taken). Path-style addressing and checksums "when required" keep
// on-premises stores working: with the SDK's default checksums some of them store wrong
// bytes for streamed bodies or reject the trailer. The bucket is made only by prepare()
// (repo init), as restic does; any other request to a missing bucket is BUCKET_MISSING.

import {
  S3Client, PutObjectCommand, GetObjectCommand, HeadObjectCommand, DeleteObjectCommand,
  ListObjectsV2Command, CreateMultipartUploadCommand, CreateBucketCommand, HeadBucketCommand, UploadPartCommand,
  CompleteMultipartUploadCommand, AbortMultipartUploadCommand, type BucketLocationConstraint,
} from '@aws-sdk/client-s3';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { VmbakError, type ByteRange, type ObjectInfo, type Target } from '../core/index.ts';
import type { TargetOptions } from './target-options.ts';
import { mapS3Error } from './s3-errors.ts';

export const MULTIPART_THRESHOLD_BYTES = 64 * 1024 * 1024;
export const MULTIPART_PART_BYTES = 16 * 1024 * 1024;

export interface S3Location {
  readonly bucket: string;
  /** Key prefix without leading slash; '' or ends with '/'. */
  readonly prefix: string;
  readonly endpoint: string | null;
  readonly region: string;
  readonly displayUrl: string;
}

export class S3Target implements Target {
  readonly displayUrl: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly region: string;
  /** Set once any answer has shown the bucket exists, so stat need not ask again. */
  private bucketSeen = false;

  constructor(location: S3Location, options: TargetOptions) {
    this.displayUrl = location.displayUrl;
    this.bucket = location.bucket;
    this.prefix = location.prefix;
    this.region = location.region;
    const agentOptions = { keepAlive: true, maxSockets: Math.max(options.connections, 1) * 2 };
    // Keys given with the options (a controller's stored credentials) come first; else the SDK's
    // own chain (environment, shared files, instance roles).
    const env = options.env;
    const keys = env?.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? { credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN } }
      : {};
    this.client = new S3Client({
      ...keys,
      region: location.region,
      ...(location.endpoint ? { endpoint: location.endpoint } : {}),
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 1, // retries belong to the engine, which knows what is safe to repeat
      requestHandler: {
        connectionTimeout: options.connectTimeoutMs,
        requestTimeout: options.timeoutMs,
        httpAgent: new HttpAgent(agentOptions),
        httpsAgent: new HttpsAgent(agentOptions),
      },
    });
  }

  async put(name: string, data: Uint8Array): Promise<void> {
    if (data.length > MULTIPART_THRESHOLD_BYTES) return await this.putMultipart(name, data);
    await this.send('put', name, () => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(name), Body: data, ContentLength: data.length })));
  }

  async create(name: string, data: Uint8Array): Promise<boolean> {
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(name), Body: data, ContentLength: data.length, IfNoneMatch: '*' }));
      return true;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      // 412: the name is taken; 409: a concurrent conditional write to the same name won.
      if (status === 412 || status === 409) return false;
      throw mapS3Error(this.displayUrl, this.bucket, 'create', name, err);
    }
  }

  async get(name: string, range?: ByteRange): Promise<Buffer> {
    if (range && range.lengthBytes === 0) {
      if (!(await this.stat(name))) throw new VmbakError('OBJECT_MISSING', { object: name, target: this.displayUrl });
      return Buffer.alloc(0);
    }
    const Range = range ? `bytes=${range.offsetBytes}-${range.offsetBytes + range.lengthBytes - 1}` : undefined;
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(name), Range }));
      const bytes = Buffer.from(await out.Body!.transformToByteArray());
      if (range && bytes.length !== range.lengthBytes) {
        throw new VmbakError('TARGET_IO', { target: this.displayUrl, op: 'get', object: name, detail: `short read (${bytes.length} of ${range.lengthBytes} bytes)` });
      }
      return bytes;
    } catch (err) {
      if (err instanceof VmbakError) throw err;
      throw mapS3Error(this.displayUrl, this.bucket, 'get', name, err);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.send('list', prefix || '/', () => this.client.send(new ListObjectsV2Command({
        Bucket: this.bucket, Prefix: this.key(prefix), ContinuationToken: token,
      })));
      for (const obj of page.Contents ?? []) {
        if (obj.Key === undefined) continue;
        out.push({ name: obj.Key.slice(this.prefix.length), sizeBytes: obj.Size ?? 0, modifiedMs: obj.LastModified?.getTime() ?? null });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async delete(name: string): Promise<void> {
    await this.send('delete', name, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(name) })));
  }

  async stat(name: string): Promise<ObjectInfo | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(name) }));
      this.bucketSeen = true;
      return { name, sizeBytes: head.ContentLength ?? 0, modifiedMs: head.LastModified?.getTime() ?? null };
    } catch (err) {
      const e = mapS3Error(this.displayUrl, this.bucket, 'stat', name, err);
      if (e.code !== 'OBJECT_MISSING') throw e;
      // A HEAD answer has no body: its 404 does not say whether the key or the bucket is missing.
      if (!this.bucketSeen && !(await this.bucketExists('stat', name))) {
        throw new VmbakError('BUCKET_MISSING', { bucket: this.bucket, target: this.displayUrl });
      }
      return null;
    }
  }

  /** Creates the bucket if it is missing; asks first, so credentials without CreateBucket do for an existing one. */
  async prepare(): Promise<void> {
    if (await this.bucketExists('create bucket', this.bucket)) return;
    // AWS wants the region named except in us-east-1, where naming it is an error.
    const placement = this.region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: this.region as BucketLocationConstraint } };
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket, ...placement }));
    } catch (err) {
      const code = (err as { name?: string }).name;
      if (code === 'BucketAlreadyExists') {
        throw new VmbakError('TARGET_DENIED', { target: this.displayUrl, detail: `bucket ${this.bucket} belongs to another account` }, { cause: err });
      }
      // BucketAlreadyOwnedByYou: a concurrent init made it, which is just as good.
      if (code !== 'BucketAlreadyOwnedByYou') throw mapS3Error(this.displayUrl, this.bucket, 'create bucket', this.bucket, err);
    }
    this.bucketSeen = true;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private async putMultipart(name: string, data: Uint8Array): Promise<void> {
    const Key = this.key(name);
    const started = await this.send('put', name, () => this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key })));
    const UploadId = started.UploadId!;
    try {
      const parts: Array<{ ETag: string; PartNumber: number }> = [];
      const count = Math.ceil(data.length / MULTIPART_PART_BYTES);
      // Two parts in flight: enough to fill a link without holding many copies in the SDK.
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < count) {
          const index = next++;
          const body = data.subarray(index * MULTIPART_PART_BYTES, Math.min(data.length, (index + 1) * MULTIPART_PART_BYTES));
          const res = await this.send('put', name, () => this.client.send(new UploadPartCommand({
            Bucket: this.bucket, Key, UploadId, PartNumber: index + 1, Body: body, ContentLength: body.length,
          })));
          parts[index] = { ETag: res.ETag!, PartNumber: index + 1 };
        }
      };
      await Promise.all([worker(), worker()]);
      await this.send('put', name, () => this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId, MultipartUpload: { Parts: parts } })));
    } catch (err) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId })).catch(() => {});
      throw err;
    }
  }

  private key(name: string): string {
    if (name.split('/').some((part) => part === '..')) throw new VmbakError('INTERNAL', { detail: `bad object name ${name}` });
    return this.prefix + name;
  }

  private async bucketExists(op: string, object: string): Promise<boolean> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      this.bucketSeen = true;
      return true;
    } catch (err) {
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
      throw mapS3Error(this.displayUrl, this.bucket, op, object, err);
    }
  }

  private async send<T>(op: string, name: string, request: () => Promise<T>): Promise<T> {
    try {
      const result = await request();
      this.bucketSeen = true;
      return result;
    } catch (err) {
      throw mapS3Error(this.displayUrl, this.bucket, op, name, err);
    }
  }
}
