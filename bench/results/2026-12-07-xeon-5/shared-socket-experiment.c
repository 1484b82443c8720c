// Throwaway experiment (BENCHMARKS.md, "Tried, not kept"): sender CPU per datagram to N sockets, or to one shared socket.
// Build: gcc -O2 -o fan shared-socket-experiment.c -lpthread; run: ./fan 500 0 5 (a socket each), ./fan 500 1 5 (shared).
// Output of 3 alternated pairs on 2026-12-07: a socket each 3.631, 3.912, 3.579 us; shared 3.488, 3.455, 3.272 us.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <sys/resource.h>
static int N, shared, secs; static volatile int stop;
static int *fds; static struct sockaddr_in *dst; static long rx;
static void pin(int c){cpu_set_t s;CPU_ZERO(&s);CPU_SET(c,&s);pthread_setaffinity_np(pthread_self(),sizeof s,&s);}
static double tcpu(){struct timespec t;clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);return t.tv_sec+t.tv_nsec/1e9;}
static void *recvr(void*a){pin(1);int ep=epoll_create1(0);int nf=shared?1:N;
 for(int i=0;i<nf;i++){struct epoll_event e={.events=EPOLLIN,.data.u32=i};epoll_ctl(ep,EPOLL_CTL_ADD,fds[i],&e);}
 static char buf[32][2048];struct mmsghdr m[32];struct iovec v[32];
 for(int i=0;i<32;i++){v[i].iov_base=buf[i];v[i].iov_len=2048;memset(&m[i],0,sizeof m[i]);m[i].msg_hdr.msg_iov=&v[i];m[i].msg_hdr.msg_iovlen=1;}
 struct epoll_event ev[64];
 while(!stop){int n=epoll_wait(ep,ev,64,20);for(int i=0;i<n;i++){int fd=fds[ev[i].data.u32];int r;while((r=recvmmsg(fd,m,32,MSG_DONTWAIT,0))>0)rx+=r;}}
 return 0;}
int main(int c,char**v){N=atoi(v[1]);shared=atoi(v[2]);secs=atoi(v[3]);int len=1200;
 fds=calloc(N,sizeof(int));dst=calloc(N,sizeof *dst);
 int nsock=shared?1:N;
 for(int i=0;i<nsock;i++){fds[i]=socket(AF_INET,SOCK_DGRAM|SOCK_NONBLOCK,0);int b=shared?64<<20:1<<20;setsockopt(fds[i],SOL_SOCKET,SO_RCVBUFFORCE,&b,sizeof b);
  struct sockaddr_in a={.sin_family=AF_INET};a.sin_addr.s_addr=shared?htonl(INADDR_ANY):htonl(0x7f000001);a.sin_port=shared?htons(40000):0;
  if(bind(fds[i],(void*)&a,sizeof a)){perror("bind");return 1;}socklen_t l=sizeof a;getsockname(fds[i],(void*)&a,&l);
  if(!shared)dst[i]=a;}
 if(shared)for(int i=0;i<N;i++){dst[i].sin_family=AF_INET;dst[i].sin_port=htons(40000);dst[i].sin_addr.s_addr=htonl(0x7f000000|((i/250)<<8)|(i%250+2));}
 pthread_t t;pthread_create(&t,0,recvr,0);pin(0);
 int s=socket(AF_INET,SOCK_DGRAM,0);static char pkt[1500];memset(pkt,1,sizeof pkt);
 struct mmsghdr m[64];struct iovec io[64];long sent=0;
 struct timespec t0;clock_gettime(CLOCK_MONOTONIC,&t0);double c0=tcpu();
 // ~110k datagrams/s paced like a fan-out: bursts of N every N/110k s
 double period=(double)N/110000.0;double next=0;
 for(;;){struct timespec now;clock_gettime(CLOCK_MONOTONIC,&now);double el=now.tv_sec-t0.tv_sec+(now.tv_nsec-t0.tv_nsec)/1e9;if(el>secs)break;
  if(el<next){struct timespec d={0,(long)((next-el)*1e9)};nanosleep(&d,0);continue;}next+=period;
  for(int i=0;i<N;i+=64){int k=N-i<64?N-i:64;for(int j=0;j<k;j++){io[j].iov_base=pkt;io[j].iov_len=len;memset(&m[j],0,sizeof m[j]);m[j].msg_hdr.msg_name=&dst[i+j];m[j].msg_hdr.msg_namelen=sizeof dst[0];m[j].msg_hdr.msg_iov=&io[j];m[j].msg_hdr.msg_iovlen=1;}
   int r=sendmmsg(s,m,k,0);if(r>0)sent+=r;}}
 double c1=tcpu();usleep(200000);stop=1;pthread_join(t,0);
 printf("N=%d shared=%d sent=%ld rx=%ld sender %.3f us/datagram (cpu %.2fs)\n",N,shared,sent,rx,(c1-c0)*1e6/sent,c1-c0);}
