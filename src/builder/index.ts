// The builder's building blocks, for the build queue, API and CLI.
export { detect, parseProcfile, LOOKED_FOR, type Detection, type Language, type StartCommand } from './detect.js';
export { generateDockerfile, prepareBuildContext, DEFAULT_PORT, APP_UID, type DockerfileOptions, type PreparedContext } from './dockerfile.js';
export { extractArchive, type ArchiveLimits, type ArchiveFormat, type ExtractResult } from './archive.js';
export { validateGitUrl, validateRef, cloneRepo, redact, type CloneOptions, type CloneResult } from './git.js';
export { handleGitHttp, ensureBareRepo, installPostReceiveHook, shellQuote, type GitHttpRequest, type GitHttpResponse } from './githttp.js';
export { stackImage, stackImages, runtimeImage } from '../config-stacks.js';
export { chooseNode, checkManager, type NodeChoice, type NodeRequest } from './node-version.js';
export { chooseVersion, type StackChoice, type VersionRequest } from './lang-version.js';
export { ArchiveError, DetectionError, SourceError, type ArchiveErrorCode, type SourceErrorCode } from './errors.js';
export { pythonInstaller, bundlerInstaller } from './package-managers.js';
