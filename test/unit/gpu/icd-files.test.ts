import { rewriteIcd } from '../../../src/gpu/icd-files.js';
import { planNvidia } from '../../../src/gpu/plan-nvidia.js';
import { debianDriver, fakeGpuHost } from './fake-gpu-host.js';

const EGL = '{\n    "file_format_version" : "1.0.0",\n    "ICD" : {\n        "library_path" : "libEGL_nvidia.so.0"\n    }\n}\n';
const VULKAN_ABS = '{"file_format_version":"1.0.1","ICD":{"library_path":"/usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0","api_version":"1.3.277"}}';

describe('rewriteIcd', () => {
  it('keeps a file that names a bare soname as it is', () => {
    expect(rewriteIcd('/usr/share/glvnd/egl_vendor.d/10_nvidia.json', EGL)).toBe(EGL);
  });

  it('makes an absolute library path a bare name, in JSON and OpenCL .icd files', () => {
    expect(JSON.parse(rewriteIcd('/usr/share/vulkan/icd.d/nvidia_icd.json', VULKAN_ABS)!)).toEqual({
      file_format_version: '1.0.1',
      ICD: { library_path: 'libGLX_nvidia.so.0', api_version: '1.3.277' },
    });
    expect(rewriteIcd('/etc/OpenCL/vendors/nvidia.icd', '/usr/lib64/libnvidia-opencl.so.1\n')).toBe('libnvidia-opencl.so.1\n');
  });

  it('refuses what it cannot read', () => {
    expect(rewriteIcd('/usr/share/vulkan/icd.d/nvidia_icd.json', '{ not json')).toBeUndefined();
    expect(rewriteIcd('/etc/OpenCL/vendors/nvidia.icd', 'a\nb\n')).toBeUndefined();
  });

  it('the planner writes the host ICD files it finds into the container', () => {
    const icd = { '/usr/share/vulkan/icd.d/nvidia_icd.json': VULKAN_ABS, '/etc/OpenCL/vendors/nvidia.icd': 'libnvidia-opencl.so.1\n' };
    const plan = planNvidia({ contain: false }, fakeGpuHost({ version: '550.54.14', ...debianDriver('550.54.14'), devices: ['nvidia0'], icd }));
    expect(plan.files.map((f) => f.dst)).toEqual(['/usr/share/vulkan/icd.d/nvidia_icd.json', '/etc/OpenCL/vendors/nvidia.icd']);
    expect(plan.files[0]!.data).toContain('"library_path": "libGLX_nvidia.so.0"');
  });
});
