import { compareVersions, cudaMismatch, driverCudaVersion, imageCudaNeed } from '../../../src/gpu/cuda-version.js';
import { planNvidia } from '../../../src/gpu/plan-nvidia.js';
import { debianDriver, fakeGpuHost } from './fake-gpu-host.js';

describe('CUDA version check', () => {
  it('compares versions numerically', () => {
    expect(compareVersions('550.54.14', '550.54.2')).toBe(1);
    expect(compareVersions('12.10', '12.9')).toBe(1);
    expect(compareVersions('12.4', '12.4.0')).toBe(0);
  });

  it("maps a driver to the newest CUDA it runs", () => {
    expect(driverCudaVersion('550.54.14')).toBe('12.4');
    expect(driverCudaVersion('550.54.13')).toBe('12.3');
    expect(driverCudaVersion('580.82.07')).toBe('13.0');
    expect(driverCudaVersion('440.1')).toBeUndefined();
    // 11.0's general release, not its release candidate.
    expect(driverCudaVersion('450.51.05')).toBe('11.0');
    expect(driverCudaVersion('450.36.06')).toBeUndefined();
  });

  it("reads the image's need from NVIDIA_REQUIRE_CUDA, else CUDA_VERSION", () => {
    expect(imageCudaNeed(['PATH=/usr/bin', 'CUDA_VERSION=12.6.3', 'NVIDIA_REQUIRE_CUDA=cuda>=12.6 brand=tesla,driver>=470'])).toEqual({ version: '12.6', from: 'NVIDIA_REQUIRE_CUDA' });
    expect(imageCudaNeed(['CUDA_VERSION=11.8.0'])).toEqual({ version: '11.8', from: 'CUDA_VERSION' });
    expect(imageCudaNeed(['PATH=/usr/bin'])).toBeUndefined();
  });

  it('warns, naming both and the forward-compatibility package, only when the image needs more', () => {
    expect(cudaMismatch({ version: '12.4', from: 'CUDA_VERSION' }, '550.54.14')).toBeUndefined();
    const w = cudaMismatch({ version: '12.6', from: 'CUDA_VERSION' }, '550.54.14');
    expect(w).toMatch(/needs CUDA 12\.6 \(its CUDA_VERSION\), but driver 550\.54\.14 supports CUDA 12\.4/);
    expect(w).toMatch(/minor-version compatibility/);
    expect(w).toMatch(/install CUDA's forward-compatibility package cuda-compat-12-6 in the image and run with --nv-compat/);
    const carried = cudaMismatch({ version: '12.6', from: 'CUDA_VERSION' }, '550.54.14', { dir: '/usr/local/cuda-12.6/compat', version: '560.35.05' });
    expect(carried).toMatch(/the image carries CUDA's forward-compatibility libraries of driver 560\.35\.05 in \/usr\/local\/cuda-12\.6\/compat: add --nv-compat/);
    expect(cudaMismatch({ version: '13.0', from: 'CUDA_VERSION' }, '550.54.14')).not.toMatch(/minor-version/);
    // 11.x's minor-version compatibility starts at 450.80.02.
    expect(cudaMismatch({ version: '11.1', from: 'CUDA_VERSION' }, '450.57')).not.toMatch(/minor-version/);
    expect(cudaMismatch({ version: '11.1', from: 'CUDA_VERSION' }, '450.80.02')).toMatch(/minor-version/);
  });

  it('a driver of a branch newer than the table knows: no warning within its major', () => {
    expect(cudaMismatch({ version: '13.2', from: 'CUDA_VERSION' }, '595.45.04')).toBeUndefined();
    expect(cudaMismatch({ version: '13.2', from: 'CUDA_VERSION' }, '580.82.07')).toMatch(/supports CUDA 13\.0: CUDA's minor-version/);
  });

  it('the planner warns for an image that needs a newer CUDA', () => {
    const host = fakeGpuHost({ version: '550.54.14', ...debianDriver('550.54.14'), devices: ['nvidia0'] });
    expect(planNvidia({ contain: false, imageEnv: ['CUDA_VERSION=12.8.1'] }, host).warnings).toEqual([expect.stringMatching(/needs CUDA 12\.8/)]);
    expect(planNvidia({ contain: false, imageEnv: ['CUDA_VERSION=12.2.0'] }, host).warnings).toEqual([]);
  });
});
