// Locates libtorch for node-gyp and prints one field of its build settings.
//   node libtorch.cjs check | include_dirs | library_dirs | libraries | ldflags | defines
// Default: Debian's libtorch-dev under /usr. LIBTORCH=<dir> selects any other libtorch: a
// pytorch.org download or the `torch` folder of a PyTorch install (which brings CUDA).
// TORCH_CXX11_ABI=0|1 overrides the C++ ABI, otherwise it is read from libc10's symbols.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

function locate() {
  const root = process.env.LIBTORCH;
  if (root) {
    const inc = path.join(root, 'include');
    const lib = path.join(root, 'lib');
    return { root, inc: [inc, path.join(inc, 'torch', 'csrc', 'api', 'include')], lib, debian: false };
  }
  const triplet = (() => {
    try { return execFileSync('gcc', ['-dumpmachine'], { encoding: 'utf8' }).trim(); } catch { return 'x86_64-linux-gnu'; }
  })();
  return { root: '/usr', inc: ['/usr/include', '/usr/include/torch/csrc/api/include'], lib: `/usr/lib/${triplet}`, debian: true };
}

const where = locate();
const header = where.inc.map((d) => path.join(d, 'ATen', 'ATen.h')).find((f) => fs.existsSync(f));
const c10 = path.join(where.lib, 'libc10.so');
function fail(msg) {
  process.stderr.write(`\nt2i-align: cannot build the libtorch addon: ${msg}\n` +
    'Install Debian\'s libtorch (as root):  apt-get install libtorch-dev libopenblas0-openmp\n' +
    'or point LIBTORCH at another libtorch:  LIBTORCH=/path/to/libtorch npm run build:native\n' +
    '  (a pytorch.org libtorch folder, or python3 -c "import torch,os;print(os.path.dirname(torch.__file__))")\n\n');
  process.exit(1);
}
const what = process.argv[2];
if (what === 'check') {
  if (!header) fail(`no ATen/ATen.h under ${where.inc.join(' or ')}`);
  if (!fs.existsSync(c10)) fail(`no libc10.so in ${where.lib}`);
  process.stdout.write(`libtorch: headers ${path.dirname(path.dirname(header))}, libraries ${where.lib}\n`);
  process.exit(0);
}

function cxx11Abi() {
  if (process.env.TORCH_CXX11_ABI === '0' || process.env.TORCH_CXX11_ABI === '1') return process.env.TORCH_CXX11_ABI;
  try {
    const syms = execFileSync('nm', ['-D', '--defined-only', c10], { encoding: 'utf8', maxBuffer: 1 << 28 });
    return syms.includes('__cxx11') ? '1' : '0';
  } catch {
    return '1';
  }
}
const has = (name) => fs.existsSync(path.join(where.lib, name));
const cuda = has('libtorch_cuda.so');

switch (what) {
  case 'include_dirs':
    console.log(where.inc.join(' '));
    break;
  case 'library_dirs':
    console.log(where.lib);
    break;
  case 'defines':
    console.log(`_GLIBCXX_USE_CXX11_ABI=${cxx11Abi()}${cuda ? ' T2I_TORCH_CUDA=1' : ''}`);
    break;
  case 'libraries': {
    // --no-as-needed keeps libtorch_cuda linked although no symbol of it is referenced directly:
    // loading it registers the CUDA backend.
    const libs = ['-Wl,--no-as-needed', '-lc10', '-ltorch_cpu', '-ltorch'];
    if (cuda) libs.push('-ltorch_cuda', '-lc10_cuda');
    libs.push('-Wl,--as-needed');
    console.log(libs.join(' '));
    break;
  }
  case 'ldflags':
    console.log(where.debian ? '' : `-Wl,-rpath,${where.lib}`);
    break;
  default:
    process.stderr.write(`libtorch.cjs: unknown field ${what}\n`);
    process.exit(2);
}
